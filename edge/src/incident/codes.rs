//! National event codes per violation kind (see DESIGN.md): GB/T 47678.5-2026 事项 codes,
//! whose full form is the 6-digit region code + the 5-digit type, and the legacy CJ/T 214 codes.

use crate::kind::ViolationKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCodes {
    /// 5-digit GB/T 47678.5 type code.
    pub gb47678_type: &'static str,
    pub cjt214: &'static str,
    pub title: &'static str,
}

pub fn codes_for(kind: ViolationKind) -> KindCodes {
    match kind {
        ViolationKind::IllegalParking => KindCodes { gb47678_type: "09009", cjt214: "0505", title: "机动车乱停放" },
        // 牌匾标识异常; a city filing landscape lights uses 01039 / 0120 through its code table.
        // 占道经营 by default; 无照经营游商 (09001 / 0501) through the city's code table.
        ViolationKind::StreetVending => KindCodes { gb47678_type: "09006", cjt214: "0504", title: "占道经营" },
        ViolationKind::ExposedWaste => KindCodes { gb47678_type: "06010", cjt214: "0102", title: "暴露垃圾" },
        ViolationKind::UnlitSignage => KindCodes { gb47678_type: "03007", cjt214: "0307", title: "牌匾标识异常" },
    }
}
