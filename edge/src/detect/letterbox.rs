//! The letterbox that GStreamer's `videoscale add-borders=true` draws, and its inverse.

use crate::geometry::BBox;

/// How an image of `image_w`×`image_h` sits inside a model input of `input_w`×`input_h`:
/// scaled to fit with its aspect ratio kept, centred, the rest filled with borders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub input_w: u32,
    pub input_h: u32,
    /// Offset and size of the image inside the input, in input pixels.
    pub pad_x: f32,
    pub pad_y: f32,
    pub scaled_w: f32,
    pub scaled_h: f32,
}

impl Letterbox {
    pub fn new(image_w: u32, image_h: u32, input_w: u32, input_h: u32) -> Self {
        let scale = (input_w as f64 / image_w as f64).min(input_h as f64 / image_h as f64);
        // videoscale rounds the scaled size and splits the border evenly (the odd pixel right/bottom).
        let scaled_w = ((image_w as f64 * scale).round() as u32).min(input_w);
        let scaled_h = ((image_h as f64 * scale).round() as u32).min(input_h);
        Letterbox {
            input_w,
            input_h,
            pad_x: ((input_w - scaled_w) / 2) as f32,
            pad_y: ((input_h - scaled_h) / 2) as f32,
            scaled_w: scaled_w as f32,
            scaled_h: scaled_h as f32,
        }
    }

    /// A box in input pixels → normalised image coordinates, clamped to the image.
    pub fn to_image(&self, x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox::new(
            (x1 - self.pad_x) / self.scaled_w,
            (y1 - self.pad_y) / self.scaled_h,
            (x2 - self.pad_x) / self.scaled_w,
            (y2 - self.pad_y) / self.scaled_h,
        )
        .clamped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pal_frame_in_a_square_input_has_top_and_bottom_borders() {
        let lb = Letterbox::new(768, 576, 416, 416);
        assert_eq!((lb.scaled_w, lb.scaled_h, lb.pad_x, lb.pad_y), (416.0, 312.0, 0.0, 52.0));
        let b = lb.to_image(0.0, 52.0, 416.0, 364.0);
        assert_eq!(b, BBox::new(0.0, 0.0, 1.0, 1.0));
    }
}
