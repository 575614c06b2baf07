//! The violation kinds Steward reports: a leaf type shared by config, rules, incidents and the outbox.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// 机动车乱停放
    IllegalParking,
    /// 牌匾/景观灯不亮: a sign dark during lighting hours
    UnlitSignage,
    /// 占道经营 / 无照经营游商: people and a stall staying together
    StreetVending,
    /// 暴露垃圾: a persistent change against the clean reference that no person or vehicle explains
    ExposedWaste,
}

impl ViolationKind {
    pub const ALL: [ViolationKind; 4] = [ViolationKind::IllegalParking, ViolationKind::StreetVending, ViolationKind::ExposedWaste, ViolationKind::UnlitSignage];

    pub fn as_str(&self) -> &'static str {
        match self {
            ViolationKind::IllegalParking => "illegal_parking",
            ViolationKind::UnlitSignage => "unlit_signage",
            ViolationKind::StreetVending => "street_vending",
            ViolationKind::ExposedWaste => "exposed_waste",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Seconds a violation must last before it is reported, unless the zone says otherwise.
    pub fn default_dwell_s(&self) -> f64 {
        match self {
            ViolationKind::IllegalParking | ViolationKind::UnlitSignage | ViolationKind::StreetVending => 300.0,
            ViolationKind::ExposedWaste => 600.0,
        }
    }
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
