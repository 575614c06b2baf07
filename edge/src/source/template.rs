//! Pipeline templates: text in `pipelines/*.gst` with `{placeholders}`, one per hardware
//! platform, chosen by `[device] platform` and filled per camera.

use crate::config::Platform;

/// A pipeline description with placeholders; `#` lines are comments.
#[derive(Debug, Clone)]
pub struct PipelineTemplate {
    pub name: &'static str,
    text: &'static str,
    decoder: Decoder,
}

/// What decodes the camera's video: the end of the `{source}` head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    /// GStreamer picks a decoder by rank (`uridecodebin` / `decodebin`).
    Autoplugged,
    /// This element, after `parsebin` (a hardware decoder that must not be left to ranks).
    Element(&'static str),
}

/// What a template is filled with.
pub struct TemplateParams<'a> {
    pub uri: &'a str,
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    /// `BGR` or `RGB`.
    pub format: &'a str,
    pub sync: bool,
    /// Also hand the encoded stream to an appsink named `encoded`, for evidence clips.
    pub encoded_branch: bool,
    /// Decode key frames only (the rest never reaches the decoder).
    pub keyframes_only: bool,
}

/// Why no template could be chosen for a platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot initialise GStreamer: {0}")]
    GStreamer(String),
    #[error("platform `{platform}` needs GStreamer elements that are not installed here: {}", missing.join(", "))]
    MissingElements { platform: &'static str, missing: Vec<String> },
}

/// Decodes everything `uridecodebin` finds, exposing only video.
const DECODE_ALL: &str = r#"uridecodebin name=source uri={uri} expose-all-streams=false caps="video/x-raw(ANY)""#;
/// The parsed, still encoded video of the camera.
const PARSE: &str = r#"urisourcebin name=source uri={uri} ! parsebin ! capsfilter caps="video/x-h264;video/x-h265""#;
/// Gives a copy of the encoded video to the `encoded` appsink (evidence clips).
const SPLIT_ENCODED: &str = concat!(
    r#"tee name=encoded-split "#,
    r#"encoded-split. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 ! appsink name=encoded sync=false enable-last-sample=false "#,
    r#"encoded-split. ! queue"#
);
/// Drops every frame that is not a key frame before it reaches the decoder. The supervisor also
/// thins the key frames there to the analysis rate (a probe on `keyframes`).
const KEYFRAMES_ONLY: &str = "identity name=keyframes drop-buffer-flags=delta-unit";
const DECODE: &str = r#"decodebin caps="video/x-raw(ANY)""#;
/// Every (encoded_branch, keyframes_only) combination a head is built for.
const HEAD_VARIANTS: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

/// The head of the pipeline, up to decoded video.
fn source_head(decoder: Decoder, encoded_branch: bool, keyframes_only: bool) -> String {
    if decoder == Decoder::Autoplugged && !encoded_branch && !keyframes_only {
        return DECODE_ALL.to_string();
    }
    let mut head = vec![PARSE];
    if encoded_branch {
        head.push(SPLIT_ENCODED);
    }
    if keyframes_only {
        head.push(KEYFRAMES_ONLY);
    }
    head.push(match decoder {
        Decoder::Autoplugged => DECODE,
        Decoder::Element(name) => name,
    });
    head.join(" ! ")
}

impl PipelineTemplate {
    /// The x86 CPU template (software decoding), bundled into the binary.
    pub fn x86_cpu() -> Self {
        PipelineTemplate { name: "x86-cpu", text: include_str!("../../../pipelines/x86-cpu.gst"), decoder: Decoder::Autoplugged }
    }

    /// The Intel VA-API template (GPU decoding with `vaapidecodebin`), bundled into the binary.
    pub fn intel_vaapi() -> Self {
        PipelineTemplate { name: "intel-vaapi", text: include_str!("../../../pipelines/intel-vaapi.gst"), decoder: Decoder::Element("vaapidecodebin") }
    }

    /// The NVIDIA Jetson template (`nvv4l2decoder`, `nvvidconv`), bundled into the binary.
    pub fn jetson() -> Self {
        PipelineTemplate { name: "jetson", text: include_str!("../../../pipelines/jetson.gst"), decoder: Decoder::Element("nvv4l2decoder") }
    }

    /// The template for `platform`. `Auto` takes the first of jetson, intel-vaapi whose
    /// elements are all installed, else x86-cpu; a named platform whose elements are missing
    /// is an error naming them. Initialises GStreamer.
    pub fn for_platform(platform: Platform) -> Result<PipelineTemplate, TemplateError> {
        gstreamer::init().map_err(|e| TemplateError::GStreamer(e.to_string()))?;
        let template = match platform {
            Platform::Auto => {
                let hardware = [PipelineTemplate::jetson(), PipelineTemplate::intel_vaapi()];
                return Ok(hardware.into_iter().find(|t| t.missing_elements().is_empty()).unwrap_or_else(PipelineTemplate::x86_cpu));
            }
            Platform::X86Cpu => PipelineTemplate::x86_cpu(),
            Platform::IntelVaapi => PipelineTemplate::intel_vaapi(),
            Platform::Jetson => PipelineTemplate::jetson(),
        };
        let missing = template.missing_elements();
        if missing.is_empty() { Ok(template) } else { Err(TemplateError::MissingElements { platform: template.name, missing }) }
    }

    /// Every GStreamer element (factory name) the template can use, whatever the head: read
    /// from the template text itself, so it cannot go stale. Sorted, each once.
    pub fn elements(&self) -> Vec<String> {
        let mut names: Vec<String> = HEAD_VARIANTS
            .iter()
            .flat_map(|&(encoded_branch, keyframes_only)| element_names(&self.body().replace("{source}", &source_head(self.decoder, encoded_branch, keyframes_only))))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The elements of [`elements`](Self::elements) that are not installed here. Call after
    /// `gstreamer::init`.
    pub fn missing_elements(&self) -> Vec<String> {
        self.elements().into_iter().filter(|name| gstreamer::ElementFactory::find(name).is_none()).collect()
    }

    /// The template without its comment lines.
    fn body(&self) -> String {
        self.text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n")
    }

    /// The `gst-launch` description for one camera. It contains the camera's credentials:
    /// never log it.
    pub fn render(&self, params: &TemplateParams<'_>) -> String {
        let (num, den) = fps_fraction(params.fps);
        let source = source_head(self.decoder, params.encoded_branch, params.keyframes_only);
        self.body()
            .replace("{source}", &source)
            .replace("{uri}", &quote(params.uri))
            .replace("{fps}", &format!("{num}/{den}"))
            .replace("{width}", &params.width.to_string())
            .replace("{height}", &params.height.to_string())
            .replace("{format}", params.format)
            .replace("{sync}", if params.sync { "true" } else { "false" })
    }
}

/// The words of a `gst-launch` description, split at white space and `!` outside quotes.
fn launch_words(description: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in description.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && (c.is_whitespace() || c == '!') {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The element factory names in a `gst-launch` description: every word that is not a
/// property (`key=value`), caps (`video/x-raw,…`) or a reference to a named element (`split.`).
fn element_names(description: &str) -> Vec<String> {
    launch_words(description).into_iter().filter(|w| !w.contains('=') && !w.contains('/') && !w.ends_with('.') && !w.contains('{')).collect()
}

/// A rate as a GStreamer fraction: whole rates exactly, others to a thousandth.
pub fn fps_fraction(fps: f64) -> (i32, i32) {
    if (fps - fps.round()).abs() < 1e-9 {
        return (fps.round() as i32, 1);
    }
    let den = 1000;
    let num = (fps * den as f64).round() as i32;
    let g = gcd(num, den);
    (num / g, den / g)
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// Quotes a value for `gst_parse_launch`.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elements that exist only on the hardware a template is for, and what stands in for each
    /// here so that the rest of the description is still parsed and run: a decoder for a
    /// decoder, a converter for a converter.
    const STAND_INS: [(&str, &str); 4] = [("nvv4l2decoder", "decodebin"), ("nvvidconv", "videoconvert"), ("vaapidecodebin", "decodebin"), ("vaapipostproc", "videoconvert")];

    fn all_templates() -> [PipelineTemplate; 3] {
        [PipelineTemplate::x86_cpu(), PipelineTemplate::intel_vaapi(), PipelineTemplate::jetson()]
    }

    fn installed(name: &str) -> bool {
        gstreamer::ElementFactory::find(name).is_some()
    }

    fn params(uri: &str, encoded_branch: bool, keyframes_only: bool) -> TemplateParams<'_> {
        TemplateParams { uri, fps: 1.0, width: 416, height: 416, format: "BGR", sync: false, encoded_branch, keyframes_only }
    }

    /// `description` with every element of `template` that is not installed here replaced by
    /// its stand-in (NVMM caps become plain system-memory caps along with `nvvidconv`). Fails
    /// when an element without a stand-in is missing. On the real hardware nothing is replaced.
    fn with_stand_ins(template: &PipelineTemplate, description: &str) -> String {
        let mut text = description.to_string();
        for name in template.missing_elements() {
            let (_, stand_in) = STAND_INS.iter().find(|(absent, _)| *absent == name).unwrap_or_else(|| panic!("`{}` needs `{name}`, which is missing here and has no stand-in", template.name));
            assert!(!installed(&name) && installed(stand_in));
            text = replace_element(&text, &name, stand_in);
            if name == "nvvidconv" {
                text = text.replace("video/x-raw(memory:NVMM)", "video/x-raw");
            }
        }
        text
    }

    /// `text` with every element `from` (a whole word between white space or `!`) renamed `to`.
    fn replace_element(text: &str, from: &str, to: &str) -> String {
        let boundary = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || c == '!');
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(from) {
            let whole = boundary(rest[..at].chars().next_back()) && boundary(rest[at + from.len()..].chars().next());
            out.push_str(&rest[..at]);
            out.push_str(if whole { to } else { from });
            rest = &rest[at + from.len()..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn every_platform_and_head_parses_with_the_sinks_the_supervisor_needs() {
        gstreamer::init().unwrap();
        for template in all_templates() {
            for (encoded_branch, keyframes_only) in HEAD_VARIANTS {
                let text = with_stand_ins(&template, &template.render(&params("file:///nonexistent.mp4", encoded_branch, keyframes_only)));
                let pipeline = gstreamer::parse::launch(&text).unwrap_or_else(|e| panic!("{}: {text}: {e}", template.name));
                use gstreamer::prelude::*;
                let bin = pipeline.downcast::<gstreamer::Bin>().unwrap();
                assert!(bin.by_name("model").is_some() && bin.by_name("full").is_some(), "{text}");
                assert!(bin.by_name("source").is_some(), "{text}");
                assert_eq!(bin.by_name("encoded").is_some(), encoded_branch, "{text}");
                assert_eq!(text.contains("drop-buffer-flags=delta-unit"), keyframes_only);
            }
        }
    }

    #[test]
    fn only_hardware_elements_are_missing_here() {
        gstreamer::init().unwrap();
        assert_eq!(PipelineTemplate::x86_cpu().missing_elements(), Vec::<String>::new());
        for template in all_templates() {
            for name in template.missing_elements() {
                assert!(STAND_INS.iter().any(|(absent, _)| *absent == name), "{}: {name}", template.name);
            }
        }
    }

    #[test]
    fn stand_in_pipelines_deliver_letterboxed_and_full_frames() {
        use gstreamer::prelude::*;
        gstreamer::init().unwrap();
        let footage = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/vtest.mp4").canonicalize().unwrap();
        let uri = url::Url::from_file_path(&footage).unwrap().to_string();
        for template in all_templates() {
            for (encoded_branch, keyframes_only) in HEAD_VARIANTS {
                let text = with_stand_ins(&template, &template.render(&params(&uri, encoded_branch, keyframes_only)));
                let pipeline = gstreamer::parse::launch(&text).unwrap().downcast::<gstreamer::Pipeline>().unwrap();
                let sink = |name: &str| pipeline.by_name(name).unwrap().downcast::<gstreamer_app::AppSink>().unwrap();
                let (model, full) = (sink("model"), sink("full"));
                pipeline.set_state(gstreamer::State::Playing).unwrap();
                // (width, height, format, whether the first and the middle row are black)
                let pull = |sink: &gstreamer_app::AppSink| {
                    let sample = sink.try_pull_sample(gstreamer::ClockTime::from_seconds(10)).unwrap_or_else(|| panic!("{}: no sample from {}: {text}", template.name, sink.name()));
                    let info = gstreamer_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
                    let map = sample.buffer().unwrap().map_readable().unwrap();
                    let stride = info.stride()[0] as usize;
                    let row_black = |y: usize| map[y * stride..y * stride + 3 * info.width() as usize].iter().all(|&b| b == 0);
                    (info.width(), info.height(), info.format(), row_black(0), row_black(info.height() as usize / 2))
                };
                // vtest is 768×576 (4:3): letterboxed to 416×312 with 52 black rows above and below.
                assert_eq!(pull(&model), (416, 416, gstreamer_video::VideoFormat::Bgr, true, false), "{}", template.name);
                assert_eq!(pull(&full), (768, 576, gstreamer_video::VideoFormat::Rgb, false, false), "{}", template.name);
                if encoded_branch {
                    assert!(sink("encoded").try_pull_sample(gstreamer::ClockTime::from_seconds(10)).is_some(), "{}", template.name);
                }
                pipeline.set_state(gstreamer::State::Null).unwrap();
            }
        }
    }

    #[test]
    fn auto_takes_the_hardware_that_is_installed() {
        gstreamer::init().unwrap();
        let expected = if installed("nvv4l2decoder") && installed("nvvidconv") {
            "jetson"
        } else if installed("vaapidecodebin") && installed("vaapipostproc") {
            "intel-vaapi"
        } else {
            "x86-cpu"
        };
        assert_eq!(PipelineTemplate::for_platform(Platform::Auto).unwrap().name, expected);
        assert_eq!(PipelineTemplate::for_platform(Platform::X86Cpu).unwrap().name, "x86-cpu");
    }

    #[test]
    fn a_named_platform_without_its_elements_is_refused_naming_them() {
        gstreamer::init().unwrap();
        if installed("nvv4l2decoder") {
            return; // a Jetson: nothing is missing
        }
        let error = PipelineTemplate::for_platform(Platform::Jetson).unwrap_err();
        let TemplateError::MissingElements { platform, missing } = &error else { panic!("{error}") };
        assert_eq!(*platform, "jetson");
        assert!(missing.iter().any(|m| m == "nvv4l2decoder"), "{error}");
        assert_eq!(missing.iter().any(|m| m == "nvvidconv"), !installed("nvvidconv"), "{error}");
        assert!(error.to_string().contains("nvv4l2decoder"), "{error}");
    }

    #[test]
    fn elements_are_read_from_the_template_text() {
        let jetson = PipelineTemplate::jetson().elements();
        for name in ["urisourcebin", "parsebin", "capsfilter", "tee", "queue", "identity", "nvv4l2decoder", "videorate", "nvvidconv", "videoscale", "videoconvert", "appsink"] {
            assert!(jetson.contains(&name.to_string()), "{name} not in {jetson:?}");
        }
        assert!(!jetson.iter().any(|n| n == "uridecodebin" || n == "decodebin" || n.contains('.')), "{jetson:?}");
        let x86 = PipelineTemplate::x86_cpu().elements();
        assert!(x86.contains(&"uridecodebin".to_string()) && x86.contains(&"decodebin".to_string()), "{x86:?}");
        assert!(PipelineTemplate::intel_vaapi().elements().contains(&"vaapidecodebin".to_string()));
        assert!(PipelineTemplate::intel_vaapi().elements().contains(&"vaapipostproc".to_string()));
    }

    #[test]
    fn fractions_are_exact_for_whole_and_common_rates() {
        assert_eq!(fps_fraction(2.0), (2, 1));
        assert_eq!(fps_fraction(0.5), (1, 2));
        assert_eq!(fps_fraction(0.25), (1, 4));
    }

    #[test]
    fn rendering_fills_every_placeholder_and_quotes_the_uri() {
        let text = PipelineTemplate::x86_cpu().render(&TemplateParams {
            uri: "rtsp://u:p@h/a?x=1&y=2",
            fps: 1.0,
            width: 416,
            height: 416,
            format: "BGR",
            sync: false,
            encoded_branch: false,
            keyframes_only: false,
        });
        assert!(!text.contains('{'), "{text}");
        assert!(text.contains("uri=\"rtsp://u:p@h/a?x=1&y=2\""));
        assert!(text.contains("framerate=1/1"));
    }
}
