//! `unlit_signage` (牌匾/景观灯不亮): inside the lighting schedule, the sign region's
//! luminance stays below `dark_ratio` of its lit level. The lit level is the operator's
//! recording, or else learned as the brightest level seen while the rule is observed.

use std::time::Duration;

use image::RgbImage;

use super::{Candidate, Observation, Rule, ViolationKind, ZoneArea, luma};
use crate::config::UnlitSignageParams;
use crate::geometry::{BBox, Polygon};

/// Once dark, the sign counts as lit again only above `dark_ratio + RELIT_MARGIN`, so a level
/// hovering at the threshold does not start and stop the dwell every frame.
const RELIT_MARGIN: f64 = 0.1;

pub struct UnlitSignage {
    zone: ZoneArea,
    params: UnlitSignageParams,
    /// Brightest level seen (when not recorded by the operator).
    learned_lit: Option<f64>,
    /// Media time since when the sign has been dark.
    dark_since: Option<Duration>,
}

impl UnlitSignage {
    pub fn new(zone: ZoneArea, params: UnlitSignageParams) -> Self {
        UnlitSignage { zone, params, learned_lit: None, dark_since: None }
    }

    fn lit_level(&self) -> Option<f64> {
        self.params.lit_level.or(self.learned_lit)
    }
}

impl Rule for UnlitSignage {
    fn kind(&self) -> ViolationKind {
        ViolationKind::UnlitSignage
    }

    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Candidate> {
        let Some(level) = region_luma(observation.image, &self.zone.polygon) else { return Vec::new() };
        if self.params.lit_level.is_none() {
            self.learned_lit = Some(self.learned_lit.map_or(level, |lit| lit.max(level)));
        }
        let Some(lit) = self.lit_level().filter(|lit| *lit > 0.0) else { return Vec::new() };
        let ratio = level / lit;
        let dark = match self.dark_since {
            Some(_) => ratio < self.params.dark_ratio + RELIT_MARGIN,
            None => ratio < self.params.dark_ratio,
        };
        if !dark {
            if self.dark_since.take().is_some() {
                tracing::debug!(camera = observation.camera, zone = %self.zone.id, ratio, "sign lit again");
            }
            return Vec::new();
        }
        let since = *self.dark_since.get_or_insert(observation.media_time);
        vec![Candidate { key: 0, since, bbox: polygon_bounds(&self.zone.polygon), objects: Vec::new(), seen: true }]
    }
}

/// Mean luminance (BT.601 luma, 0–255) of the pixels inside `polygon`; `None` if it covers none.
pub fn region_luma(image: &RgbImage, polygon: &Polygon) -> Option<f64> {
    let bounds = polygon_bounds(polygon);
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (x0, x1) = ((bounds.x1 * w).floor() as u32, ((bounds.x2 * w).ceil() as u32).min(image.width()));
    let (y0, y1) = ((bounds.y1 * h).floor() as u32, ((bounds.y2 * h).ceil() as u32).min(image.height()));
    let (mut sum, mut count) = (0.0f64, 0u64);
    for y in y0..y1 {
        for x in x0..x1 {
            if polygon.contains((x as f64 + 0.5) / w as f64, (y as f64 + 0.5) / h as f64) {
                sum += luma(image.get_pixel(x, y).0);
                count += 1;
            }
        }
    }
    (count > 0).then(|| sum / count as f64)
}

fn polygon_bounds(polygon: &Polygon) -> BBox {
    let [x1, y1, x2, y2] = polygon.bounds();
    BBox::new(x1 as f32, y1 as f32, x2 as f32, y2 as f32)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use image::Rgb;

    use super::*;

    fn sign_zone() -> ZoneArea {
        ZoneArea { id: "sign".into(), polygon: Polygon::new(vec![(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]) }
    }

    fn frame(sign: u8, background: u8) -> Arc<RgbImage> {
        Arc::new(RgbImage::from_fn(40, 40, |x, y| if (10..30).contains(&x) && (10..30).contains(&y) { Rgb([sign; 3]) } else { Rgb([background; 3]) }))
    }

    fn observe(rule: &mut UnlitSignage, t: u64, image: &Arc<RgbImage>) -> Vec<Candidate> {
        let observation = Observation { camera: "cam", media_time: Duration::from_secs(t), wall_time: chrono::Utc::now(), detections: &[], image };
        rule.observe(&observation)
    }

    #[test]
    fn luma_is_measured_inside_the_polygon_only() {
        let level = region_luma(&frame(200, 10), &sign_zone().polygon).unwrap();
        assert!((level - 200.0).abs() < 0.5, "{level}");
    }

    #[test]
    fn a_sign_going_dark_is_a_candidate_from_the_moment_it_went_dark() {
        let mut rule = UnlitSignage::new(sign_zone(), UnlitSignageParams::default());
        let (lit, dark) = (frame(200, 30), frame(40, 30));
        assert!(observe(&mut rule, 0, &lit).is_empty());
        assert!(observe(&mut rule, 10, &lit).is_empty());
        assert_eq!(observe(&mut rule, 20, &dark)[0].since, Duration::from_secs(20));
        assert_eq!(observe(&mut rule, 30, &dark)[0].since, Duration::from_secs(20));
        assert!(observe(&mut rule, 40, &lit).is_empty(), "lit again ends it");
    }

    #[test]
    fn dimming_by_forty_percent_is_not_dark_and_hovering_does_not_restart_the_dwell() {
        let mut rule = UnlitSignage::new(sign_zone(), UnlitSignageParams::default());
        observe(&mut rule, 0, &frame(200, 30));
        assert!(observe(&mut rule, 1, &frame(120, 18)).is_empty(), "×0.6 is not unlit");
        assert_eq!(observe(&mut rule, 2, &frame(60, 18)).len(), 1); // 0.30 < 0.35
        assert_eq!(observe(&mut rule, 3, &frame(80, 18))[0].since, Duration::from_secs(2), "0.40 is within the relit margin");
    }

    #[test]
    fn a_recorded_lit_level_is_used_instead_of_learning() {
        let params = UnlitSignageParams { dark_ratio: 0.35, lit_level: Some(250.0) };
        let mut rule = UnlitSignage::new(sign_zone(), params);
        assert_eq!(observe(&mut rule, 0, &frame(60, 30)).len(), 1, "60/250 is dark even at the first frame");
    }
}
