//! `status is REASON` as a typed value.

use crate::catalog::{self, StatusInfo};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A status reason of the catalog.
///
/// A reference to the catalog's row rather than an enum of its own: the engine
/// matches the name against Kubernetes' own words (a container's waiting or
/// terminated reason, a node condition's type), so the name is the data, and
/// an enum would be a second list of the catalog's reasons to keep in step.
/// The type still proves what a `String` could not: the reason is one the
/// catalog knows, also when the IR is read back from JSON (an unknown name is
/// a deserialization error), and its kinds and description are one call away.
#[derive(Clone, Copy)]
pub struct StatusReason(&'static StatusInfo);

impl StatusReason {
    /// The catalog's reason of that exact name.
    pub fn new(name: &str) -> Option<StatusReason> {
        catalog::status_reason(name).map(StatusReason)
    }

    /// Kubernetes' word: `CrashLoopBackOff`, `MemoryPressure`.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The catalog's row: the kinds it applies to and its description.
    pub fn info(self) -> &'static StatusInfo {
        self.0
    }
}

impl PartialEq for StatusReason {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for StatusReason {}

impl fmt::Debug for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusReason({})", self.name())
    }
}

impl fmt::Display for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for StatusReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for StatusReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        StatusReason::new(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown status reason `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_round_trips_through_json_and_an_unknown_one_is_refused() {
        let reason = StatusReason::new("CrashLoopBackOff").expect("in the catalog");
        let json = serde_json::to_string(&reason).expect("serializes");
        assert_eq!(json, "\"CrashLoopBackOff\"");
        let back: StatusReason = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, reason);
        assert!(serde_json::from_str::<StatusReason>("\"Exploded\"").is_err());
        assert!(StatusReason::new("crashloopbackoff").is_none());
    }
}
