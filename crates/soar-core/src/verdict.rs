//! The three verdicts an alert can end with (its own module so that the document and the
//! incidents, which both hold one, do not import each other).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Incident,
    FalsePositive,
    Undetermined,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Incident => "incident",
            VerdictKind::FalsePositive => "false_positive",
            VerdictKind::Undetermined => "undetermined",
        }
    }
}
