//! The config store: the file is the source of truth. An edit is validated as a whole config,
//! written atomically and published to subscribers; a hand edit of the file is picked up the same
//! way, and an invalid one is reported while the running config stays.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use toml_edit::DocumentMut;

use super::change::{ConfigChange, EditError};
use super::diagnostic::{ConfigError, ConfigErrors};
use super::edit::apply_change;
use super::load::load_str;
use super::types::Config;

/// The config file and the config it holds. Cloning shares the store.
#[derive(Clone)]
pub struct ConfigStore(Arc<Inner>);

struct Inner {
    path: PathBuf,
    /// The path as named in messages.
    shown: String,
    /// Relative paths in the config are relative to this (the file's folder).
    base_dir: PathBuf,
    /// Edits and file checks take turns on this.
    file: Mutex<FileState>,
    published: watch::Sender<Arc<Config>>,
}

struct FileState {
    /// The file's text as last read or written by the store.
    seen: String,
    /// The problems of that text, while it is invalid.
    problems: Option<ConfigErrors>,
}

impl std::fmt::Debug for ConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigStore").field("path", &self.0.path).finish_non_exhaustive()
    }
}

impl ConfigStore {
    /// Reads and validates the config at `path`.
    pub fn open(path: &Path) -> Result<ConfigStore, ConfigErrors> {
        let shown = path.display().to_string();
        let base_dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        let text = fs::read_to_string(path).map_err(|e| ConfigErrors {
            file: shown.clone(),
            errors: vec![ConfigError { line_col: None, path: None, message: format!("cannot read config file: {e}") }],
        })?;
        let config = load_str(&text, &shown, &base_dir)?;
        let (published, _) = watch::channel(Arc::new(config));
        let file = Mutex::new(FileState { seen: text, problems: None });
        Ok(ConfigStore(Arc::new(Inner { path: path.to_path_buf(), shown, base_dir, file, published })))
    }

    /// The config file, as given to [`ConfigStore::open`].
    pub fn path(&self) -> PathBuf {
        self.0.path.clone()
    }

    /// The config in force.
    pub fn current(&self) -> Arc<Config> {
        self.0.published.borrow().clone()
    }

    /// Sees every config put in force from now on.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.0.published.subscribe()
    }

    /// The problems of the file on disk while it is invalid (edited by hand); `None` once it is
    /// valid again.
    pub fn file_problems(&self) -> Option<ConfigErrors> {
        self.0.lock().problems.clone()
    }

    /// Applies one change: re-reads the file (a hand edit is not lost), edits it, validates the
    /// whole result and only then writes it atomically and publishes the new config. Nothing is
    /// written when the result is invalid. It blocks on file I/O and fsync: from async code,
    /// call it through `tokio::task::spawn_blocking`.
    pub fn apply(&self, change: ConfigChange) -> Result<Arc<Config>, EditError> {
        let inner = &self.0;
        let mut file = inner.lock();
        let text = fs::read_to_string(&inner.path).map_err(|e| EditError::Io(format!("cannot read {}: {e}", inner.shown)))?;
        if text != file.seen || file.problems.is_some() {
            if let Err(errors) = load_str(&text, &inner.shown, &inner.base_dir) {
                if text != file.seen {
                    report_problems(&inner.shown, &errors);
                }
                file.seen = text;
                file.problems = Some(errors.clone());
                return Err(EditError::FileInvalid(errors));
            }
            tracing::info!(file = %inner.shown, "config file was edited by hand; the change builds on it");
        }
        let mut doc: DocumentMut = text.parse().map_err(|e| EditError::Io(format!("cannot parse {} again: {e}", inner.shown)))?;
        let described = format!("{change:?}");
        let scope = apply_change(&mut doc, change, &inner.shown)?;
        let edited = doc.to_string();
        let config = load_str(&edited, &inner.shown, &inner.base_dir).map_err(|errors| EditError::Invalid { errors, scope })?;
        write_atomically(&inner.path, &edited).map_err(|e| EditError::Io(format!("cannot write {}: {e}", inner.shown)))?;
        file.seen = edited;
        file.problems = None;
        let config = Arc::new(config);
        inner.published.send_replace(config.clone());
        tracing::info!(file = %inner.shown, change = %described, "config edited; applied");
        Ok(config)
    }

    /// Spawns a thread that looks at the file every `every` and puts a valid hand edit in force
    /// like an API edit; an invalid one is logged and kept in [`ConfigStore::file_problems`]
    /// while the running config stays. Stops soon after `stop` is set.
    pub fn spawn_file_watch(&self, every: Duration, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let store = self.clone();
        std::thread::Builder::new()
            .name("config-watch".to_string())
            .spawn(move || {
                let mut watch = WatchState::default();
                while !stop.load(Ordering::Relaxed) {
                    store.check_file(&mut watch);
                    sleep_unless_stopped(every, &stop);
                }
            })
            .expect("the OS starts a thread")
    }

    /// One look at the file.
    fn check_file(&self, watch: &mut WatchState) {
        let inner = &self.0;
        let mut file = inner.lock();
        let text = match fs::read_to_string(&inner.path) {
            Ok(text) => {
                watch.unreadable = None;
                text
            }
            Err(e) => {
                let why = e.to_string();
                if watch.unreadable.as_deref() != Some(why.as_str()) {
                    tracing::error!(file = %inner.shown, "cannot read the config file ({why}); the running config stays");
                    watch.unreadable = Some(why);
                }
                return;
            }
        };
        if text == file.seen {
            watch.unsettled = None;
            return;
        }
        match load_str(&text, &inner.shown, &inner.base_dir) {
            Ok(config) => {
                file.seen = text;
                file.problems = None;
                watch.unsettled = None;
                inner.published.send_replace(Arc::new(config));
                tracing::info!(file = %inner.shown, "config file changed; applied");
            }
            // An editor may be halfway through writing: an invalid text counts once it stays.
            Err(_) if watch.unsettled.as_deref() != Some(text.as_str()) => watch.unsettled = Some(text),
            Err(errors) => {
                report_problems(&inner.shown, &errors);
                file.seen = text;
                file.problems = Some(errors);
                watch.unsettled = None;
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, FileState> {
        self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the file watch remembers between looks.
#[derive(Default)]
struct WatchState {
    /// Why the file could not be read, once logged.
    unreadable: Option<String>,
    /// An invalid text seen once, not yet reported.
    unsettled: Option<String>,
}

fn report_problems(file: &str, errors: &ConfigErrors) {
    tracing::error!(file, "config file is invalid; the running config stays");
    for line in errors.to_string().lines() {
        tracing::error!("{line}");
    }
}

fn sleep_unless_stopped(every: Duration, stop: &AtomicBool) {
    let until = Instant::now() + every;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Replaces the file at `path` (through a symlink, its target) with `text` so that a reader sees
/// the old or the new text, never part of one: a temporary file in the same folder, with the
/// old file's permissions, synced and renamed over it; then the folder is synced.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    static TEMP_NUMBER: AtomicU64 = AtomicU64::new(0);
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let name = target.file_name().map_or_else(|| "config".into(), |name| name.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), TEMP_NUMBER.fetch_add(1, Ordering::Relaxed)));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        if let Ok(old) = fs::metadata(&target) {
            file.set_permissions(old.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
        return written;
    }
    if let Err(e) = File::open(&dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), "config written, but syncing its folder failed: {e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value as Json, json};

    const EXAMPLE: &str = include_str!("../../../steward.example.toml");

    /// A fresh folder under the system temp dir holding `steward.toml` with `text`.
    fn config_file(test: &str, text: &str) -> PathBuf {
        static NUMBER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("steward-store-{test}-{}-{}", std::process::id(), NUMBER.fetch_add(1, Ordering::Relaxed)));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("steward.toml");
        fs::write(&path, text).unwrap();
        path
    }

    fn object(value: Json) -> Map<String, Json> {
        value.as_object().unwrap().clone()
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(3);
        while !done() {
            assert!(Instant::now() < until, "waited 3 s for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn an_edit_changes_only_its_value_writes_the_file_and_publishes() {
        let path = config_file("edit", EXAMPLE);
        let store = ConfigStore::open(&path).unwrap();
        let mut seen = store.subscribe();
        let change = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "analysis_fps": 2.5 })) };
        let config = store.apply(change).unwrap();
        assert_eq!(config.cameras[0].analysis_fps, 2.5);
        assert!(seen.has_changed().unwrap());
        assert_eq!(seen.borrow_and_update().cameras[0].analysis_fps, 2.5);
        assert_eq!(store.current().cameras[0].analysis_fps, 2.5);
        let expected = EXAMPLE.replace("analysis_fps = 1.0                # frames", "analysis_fps = 2.5                # frames");
        assert_ne!(expected, EXAMPLE);
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file stays: {leftovers:?}");
    }

    #[test]
    fn an_invalid_edit_names_the_field_and_leaves_the_file_alone() {
        let path = config_file("invalid", EXAMPLE);
        let store = ConfigStore::open(&path).unwrap();
        let seen = store.subscribe();
        let change = ConfigChange::SetRuleValue {
            camera: "cam-1".into(),
            zone: "square".into(),
            kind: "street_vending".into(),
            key: "dwell_s".into(),
            value: json!(-5),
        };
        let Err(EditError::Invalid { errors, scope }) = store.apply(change) else { panic!("a negative dwell is refused") };
        assert_eq!(scope.as_deref(), Some("camera[0].zone[1].rules[0]"));
        assert_eq!(errors.errors.len(), 1, "{errors}");
        assert_eq!(errors.errors[0].field_under("camera[0].zone[1].rules[0]").as_deref(), Some("dwell_s"));

        let polygon = ConfigChange::PutZone { camera: "cam-1".into(), zone: object(json!({ "id": "new", "polygon": [[0.1, 0.1], [0.2, 0.2]] })) };
        let Err(EditError::Invalid { errors, scope }) = store.apply(polygon) else { panic!("two points are refused") };
        assert_eq!(scope.as_deref(), Some("camera[0].zone[4]"));
        assert_eq!(errors.errors[0].field_under("camera[0].zone[4]").as_deref(), Some("polygon"), "{errors}");

        let wrong_type = ConfigChange::AddCamera(object(json!({ "id": "cam-2", "url": "rtsp://10.0.0.7/live", "analysis_fps": "fast" })));
        let Err(EditError::Invalid { errors, scope }) = store.apply(wrong_type) else { panic!("text for a number is refused") };
        assert_eq!(errors.errors[0].field_under(scope.as_deref().unwrap()).as_deref(), Some("analysis_fps"), "{errors}");

        assert_eq!(fs::read_to_string(&path).unwrap(), EXAMPLE);
        assert!(!seen.has_changed().unwrap());
        assert_eq!(store.current().cameras[0].zones.len(), 4);
    }

    #[test]
    fn credentials_are_kept_on_update_and_never_shown_in_errors() {
        let path = config_file("credentials", EXAMPLE);
        let store = ConfigStore::open(&path).unwrap();
        let masked = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "url": "rtsp://***@192.0.2.11:554/main" })) };
        assert_eq!(store.apply(masked).unwrap().cameras[0].url.expose(), "rtsp://user:pass@192.0.2.11:554/main");
        let left_out = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "url": "rtsp://192.0.2.12/main" })) };
        assert_eq!(store.apply(left_out).unwrap().cameras[0].url.expose(), "rtsp://user:pass@192.0.2.12/main");
        let new_password = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "password": "n3w#pw" })) };
        assert_eq!(store.apply(new_password).unwrap().cameras[0].url.expose(), "rtsp://user:n3w%23pw@192.0.2.12/main");
        assert!(!fs::read_to_string(&path).unwrap().contains("password ="), "not written as a key");

        let unparsable = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "url": "rtsp//admin:hunter2@nowhere" })) };
        let error = store.apply(unparsable).unwrap_err();
        let with_password = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "password": "hunter2", "analysis_fps": 99 })) };
        assert!(!format!("{with_password:?}").contains("hunter2"));
        let other = store.apply(with_password).unwrap_err();
        for shown in [error.to_string(), format!("{error:?}"), other.to_string(), format!("{other:?}")] {
            assert!(!shown.contains("hunter2") && !shown.contains("n3w"), "{shown}");
        }
        assert_eq!(store.current().cameras[0].url.expose(), "rtsp://user:n3w%23pw@192.0.2.12/main");

        let removed = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "username": "", "password": "" })) };
        assert_eq!(store.apply(removed).unwrap().cameras[0].url.expose(), "rtsp://192.0.2.12/main");
    }

    #[test]
    fn the_file_watch_applies_a_valid_hand_edit_and_reports_an_invalid_one() {
        let path = config_file("watch", EXAMPLE);
        let store = ConfigStore::open(&path).unwrap();
        let mut seen = store.subscribe();
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = store.spawn_file_watch(Duration::from_millis(30), stop.clone());

        fs::write(&path, EXAMPLE.replace("analysis_fps = 1.0", "analysis_fps = 3.0")).unwrap();
        wait_for("the hand edit to be published", || seen.has_changed().unwrap());
        assert_eq!(seen.borrow_and_update().cameras[0].analysis_fps, 3.0);
        assert!(store.file_problems().is_none());

        let invalid = EXAMPLE.replace("analysis_fps = 1.0", "analysis_fps = 99.0");
        fs::write(&path, &invalid).unwrap();
        wait_for("the invalid hand edit to be recorded", || store.file_problems().is_some());
        let problems = store.file_problems().unwrap();
        let line = invalid.lines().position(|l| l.starts_with("analysis_fps = 99.0")).unwrap() + 1;
        assert!(problems.to_string().contains(&format!(":{line}:16: 99 is out of range")), "{problems}");
        assert_eq!(store.current().cameras[0].analysis_fps, 3.0);
        assert!(!seen.has_changed().unwrap());
        let change = ConfigChange::RemoveCamera { id: "cam-1".into() };
        assert!(matches!(store.apply(change), Err(EditError::FileInvalid(_))));

        fs::write(&path, EXAMPLE.replace("analysis_fps = 1.0", "analysis_fps = 4.0")).unwrap();
        wait_for("the fixed file to be published", || seen.has_changed().unwrap());
        assert_eq!(store.current().cameras[0].analysis_fps, 4.0);
        assert!(store.file_problems().is_none());

        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
    }

    #[test]
    fn an_edit_builds_on_a_hand_edit_not_yet_seen() {
        let path = config_file("hand-then-api", EXAMPLE);
        let store = ConfigStore::open(&path).unwrap();
        fs::write(&path, EXAMPLE.replace("name = \"North approach\"", "name = \"Hand named\"")).unwrap();
        let change = ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "analysis_fps": 2 })) };
        let config = store.apply(change).unwrap();
        assert_eq!((config.cameras[0].name.as_str(), config.cameras[0].analysis_fps), ("Hand named", 2.0));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let path = config_file("permissions", EXAMPLE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let store = ConfigStore::open(&path).unwrap();
        store.apply(ConfigChange::RemoveSink { name: "city-platform".into() }).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(store.current().sinks.is_empty());
    }
}
