//! Pipeline templates: text in `pipelines/*.gst` with `{placeholders}`, filled per camera.

/// A pipeline description with placeholders; `#` lines are comments.
#[derive(Debug, Clone)]
pub struct PipelineTemplate {
    pub name: &'static str,
    text: &'static str,
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
/// Drops every frame that is not a key frame before it reaches the decoder.
const KEYFRAMES_ONLY: &str = "identity drop-buffer-flags=delta-unit";
const DECODE: &str = r#"decodebin caps="video/x-raw(ANY)""#;

/// The head of the pipeline, up to decoded video.
fn source_head(encoded_branch: bool, keyframes_only: bool) -> String {
    if !encoded_branch && !keyframes_only {
        return DECODE_ALL.to_string();
    }
    let mut head = vec![PARSE];
    if encoded_branch {
        head.push(SPLIT_ENCODED);
    }
    if keyframes_only {
        head.push(KEYFRAMES_ONLY);
    }
    head.push(DECODE);
    head.join(" ! ")
}

impl PipelineTemplate {
    /// The x86 CPU template (software decoding), bundled into the binary.
    pub fn x86_cpu() -> Self {
        PipelineTemplate { name: "x86-cpu", text: include_str!("../../../pipelines/x86-cpu.gst") }
    }

    /// The `gst-launch` description for one camera. It contains the camera's credentials:
    /// never log it.
    pub fn render(&self, params: &TemplateParams<'_>) -> String {
        let (num, den) = fps_fraction(params.fps);
        let body: Vec<&str> = self.text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
        let source = source_head(params.encoded_branch, params.keyframes_only);
        body.join("\n")
            .replace("{source}", &source)
            .replace("{uri}", &quote(params.uri))
            .replace("{fps}", &format!("{num}/{den}"))
            .replace("{width}", &params.width.to_string())
            .replace("{height}", &params.height.to_string())
            .replace("{format}", params.format)
            .replace("{sync}", if params.sync { "true" } else { "false" })
    }
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

    #[test]
    fn every_head_builds_a_pipeline_with_the_sinks_the_supervisor_needs() {
        gstreamer::init().unwrap();
        for (encoded_branch, keyframes_only) in [(false, false), (true, false), (false, true), (true, true)] {
            let text = PipelineTemplate::x86_cpu().render(&TemplateParams {
                uri: "file:///nonexistent.mp4",
                fps: 1.0,
                width: 416,
                height: 416,
                format: "BGR",
                sync: false,
                encoded_branch,
                keyframes_only,
            });
            let pipeline = gstreamer::parse::launch(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            use gstreamer::prelude::*;
            let bin = pipeline.downcast::<gstreamer::Bin>().unwrap();
            assert!(bin.by_name("model").is_some() && bin.by_name("full").is_some());
            assert_eq!(bin.by_name("encoded").is_some(), encoded_branch, "{text}");
            assert_eq!(text.contains("drop-buffer-flags=delta-unit"), keyframes_only);
        }
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
