//! The benchmark's progress bar: elapsed seconds against the planned total, with the phase
//! being measured as its message. Drawn on stderr; hidden when stderr is not a terminal.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    /// A bar for a run planned to take `planned_s` seconds.
    pub fn new(planned_s: f64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(planned_s.ceil() as u64), ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos:>4}/{len:4} s  {msg}").expect("valid template").progress_chars("=> "));
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar, started: Instant::now() }
    }

    /// Names the phase being measured (also logged, so a non-terminal run shows it).
    pub fn phase(&self, what: &str) {
        self.bar.set_message(what.to_string());
        if self.bar.is_hidden() {
            eprintln!("bench: {what}");
        }
        self.tick();
    }

    /// Adds `seconds` to the plan (a search needed another run).
    pub fn extend(&self, seconds: f64) {
        self.bar.inc_length(seconds.ceil() as u64);
    }

    pub fn tick(&self) {
        let elapsed = self.started.elapsed().as_secs();
        if elapsed > self.bar.length().unwrap_or(0) {
            self.bar.set_length(elapsed);
        }
        self.bar.set_position(elapsed);
    }

    /// Sleeps, keeping the bar moving.
    pub fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200).min(until - Instant::now()));
            self.tick();
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
