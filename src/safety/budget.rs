//! A policy's worst-case disruption budget: the most actions per hour, and per
//! target per hour, that its `limit` and `cooldown` allow. `explain` shows it;
//! the safety controller enforces the same arithmetic at run time.

use super::SafetyConfig;
use crate::ir::Policy;

const HOUR: u64 = 3_600;

/// `None` means unbounded by the policy itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Actions of the whole policy in any hour.
    pub per_hour: Option<u64>,
    /// Actions on one target in any hour.
    pub per_target_per_hour: Option<u64>,
    /// The safety configuration's cap on any policy's actions per hour.
    pub global_cap: u64,
}

impl Budget {
    /// Unbounded: neither `limit` nor `cooldown` bounds a policy that acts.
    pub fn is_unbounded(&self) -> bool {
        self.per_hour.is_none() && self.per_target_per_hour.is_none()
    }
}

pub fn budget(policy: &Policy, config: &SafetyConfig) -> Budget {
    let per_hour = policy.limit.map(|limit| {
        let per = limit.per.0.max(1);
        // A window longer than an hour may spend all of it in one hour.
        let windows = if per >= HOUR { 1 } else { HOUR.div_ceil(per) };
        u64::from(limit.count) * windows
    });
    let per_target = policy
        .cooldown
        .filter(|c| c.0 > 0)
        .map(|c| HOUR.div_ceil(c.0));
    let per_target_per_hour = match (per_target, per_hour) {
        (Some(t), Some(p)) => Some(t.min(p)),
        (t, p) => t.or(p),
    };
    Budget {
        per_hour,
        per_target_per_hour,
        global_cap: u64::from(config.max_actions_per_hour),
    }
}
