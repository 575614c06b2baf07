//! The violation kinds Steward reports: a leaf type shared by config, rules, incidents and the outbox.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// 机动车乱停放
    IllegalParking,
}

impl ViolationKind {
    pub const ALL: [ViolationKind; 1] = [ViolationKind::IllegalParking];
    /// Kinds the design names that this version cannot judge yet.
    pub const PLANNED: [&'static str; 3] = ["street_vending", "exposed_waste", "unlit_signage"];

    pub fn as_str(&self) -> &'static str {
        match self {
            ViolationKind::IllegalParking => "illegal_parking",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Seconds a violation must last before it is reported, unless the zone says otherwise.
    pub fn default_dwell_s(&self) -> f64 {
        match self {
            ViolationKind::IllegalParking => 300.0,
        }
    }
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
