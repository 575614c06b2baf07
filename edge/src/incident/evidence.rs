//! Evidence: the annotated snapshot — zone outline, the object's box, camera and time burnt in —
//! written as JPEG with its sha256.

use std::io::Write;
use std::path::{Path, PathBuf};

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_polygon_mut, draw_hollow_rect_mut};
use imageproc::point::Point;
use imageproc::rect::Rect;
use sha2::{Digest, Sha256};

use crate::geometry::BBox;

const ZONE_COLOUR: Rgb<u8> = Rgb([255, 214, 0]);
const OBJECT_COLOUR: Rgb<u8> = Rgb([255, 40, 40]);
const TEXT_COLOUR: Rgb<u8> = Rgb([255, 255, 255]);
const TEXT_BACKGROUND: Rgb<u8> = Rgb([0, 0, 0]);
const JPEG_QUALITY: u8 = 85;

/// What to draw on a snapshot, in normalised coordinates.
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    pub zone: Vec<(f64, f64)>,
    pub boxes: Vec<(BBox, String)>,
    /// Caption lines burnt in at the top left (ASCII; other characters are shown as `?`).
    pub caption: Vec<String>,
}

/// A stored evidence file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    pub path: PathBuf,
    pub media_type: &'static str,
    pub sha256: String,
    pub size: u64,
}

/// Draws `annotation` on a copy of `image` and writes it as JPEG to `path` (atomically: a
/// temporary file, synced, then renamed).
pub fn write_snapshot(image: &RgbImage, annotation: &Annotation, path: &Path) -> std::io::Result<EvidenceFile> {
    let mut canvas = image.clone();
    annotate(&mut canvas, annotation);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&canvas)
        .map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("jpg.partial");
    {
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(&jpeg)?;
        file.sync_all()?;
    }
    std::fs::rename(&partial, path)?;
    Ok(EvidenceFile { path: path.to_path_buf(), media_type: "image/jpeg", sha256: hex::encode(Sha256::digest(&jpeg)), size: jpeg.len() as u64 })
}

fn annotate(canvas: &mut RgbImage, annotation: &Annotation) {
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let thickness = ((w.max(h) / 400.0).round() as i32).max(2);
    if annotation.zone.len() >= 3 {
        let points: Vec<Point<f32>> = annotation.zone.iter().map(|&(x, y)| Point::new(x as f32 * (w - 1.0), y as f32 * (h - 1.0))).collect();
        for t in 0..thickness {
            let shifted: Vec<Point<f32>> = points.iter().map(|p| Point::new(p.x + t as f32 * 0.5, p.y + t as f32 * 0.5)).collect();
            draw_hollow_polygon_mut(canvas, &shifted, ZONE_COLOUR);
        }
    }
    let scale = ((h / 300.0).round() as u32).max(1);
    for (bbox, label) in &annotation.boxes {
        let x = (bbox.x1 * w) as i32;
        let y = (bbox.y1 * h) as i32;
        let bw = ((bbox.width() * w) as u32).max(1);
        let bh = ((bbox.height() * h) as u32).max(1);
        for t in 0..thickness {
            let grow = 2 * t as u32;
            draw_hollow_rect_mut(canvas, Rect::at(x - t, y - t).of_size(bw + grow, bh + grow), OBJECT_COLOUR);
        }
        let label_y = (y - thickness - (8 * scale as i32 + 4)).max(0);
        let label_w = label.chars().count() as i32 * 8 * scale as i32 + 4;
        let label_x = x.min(canvas.width() as i32 - label_w).max(0);
        draw_text(canvas, label, label_x, label_y, scale, OBJECT_COLOUR);
    }
    let line_height = 8 * scale as i32 + 4;
    for (n, line) in annotation.caption.iter().enumerate() {
        draw_text(canvas, line, 4, 4 + n as i32 * line_height, scale, TEXT_BACKGROUND);
    }
}

/// 8×8 bitmap text on a solid background.
fn draw_text(canvas: &mut RgbImage, text: &str, x: i32, y: i32, scale: u32, background: Rgb<u8>) {
    let glyph = 8 * scale as i32;
    let width = text.chars().count() as u32 * glyph as u32 + 4;
    draw_filled_rect_mut(canvas, Rect::at(x, y).of_size(width, glyph as u32 + 4), background);
    for (n, ch) in text.chars().enumerate() {
        let rows = font8x8::BASIC_FONTS.get(ch).or_else(|| font8x8::BASIC_FONTS.get('?')).unwrap_or([0; 8]);
        let gx = x + 2 + n as i32 * glyph;
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    let px = gx + col * scale as i32;
                    let py = y + 2 + row as i32 * scale as i32;
                    draw_filled_rect_mut(canvas, Rect::at(px, py).of_size(scale, scale), TEXT_COLOUR);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_a_decodable_jpeg_with_the_box_drawn_and_a_matching_digest() {
        let image = RgbImage::from_pixel(320, 240, Rgb([30, 90, 30]));
        let dir = std::env::temp_dir().join(format!("steward-evidence-{}", std::process::id()));
        let path = dir.join("snap.jpg");
        let annotation = Annotation {
            zone: vec![(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)],
            boxes: vec![(BBox::new(0.4, 0.4, 0.6, 0.6), "car 0.80".into())],
            caption: vec!["cam-1 2026-11-26 10:00:00 +08:00".into()],
        };
        let file = write_snapshot(&image, &annotation, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(file.sha256, hex::encode(Sha256::digest(&bytes)));
        let decoded = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (320, 240));
        let on_box_edge = decoded.get_pixel((0.4 * 320.0) as u32, 120);
        assert!(on_box_edge[0] > 180 && on_box_edge[1] < 120, "box edge is red: {on_box_edge:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
