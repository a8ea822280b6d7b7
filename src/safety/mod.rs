//! Safety: the configuration that bounds what policies may do, and the rules
//! that read it. The checker applies them to reject at check time what could
//! only break a rule; the operator's safety controller (rate limits,
//! cooldowns, circuit breaker, approvals) applies the same functions at run
//! time, with what it then knows.
//!
//! Invariant: pure; no I/O beyond parsing a configuration text it is given.

mod admit;
mod budget;
mod classify;
mod config;
mod guard;

pub use admit::{admit, Admission, Proposal};
pub use budget::{budget, Budget};
pub use classify::{
    classify, effect, forbidden, landing_kinds, owner_kinds, Forbidden, STATEFULSET_POD_LABEL,
};
pub use config::{namespace_name, ConfigError, ForbiddenAction, SafetyConfig};
pub use guard::{
    actions_this_hour, breaker_open_until, guard, BlastRadius, CircuitBreaker, Guarded, Held,
    PolicyRecent, RecordRetention, Situation, StormGuard, Verification, WorkloadHealth,
};

pub(crate) use classify::join_or;
