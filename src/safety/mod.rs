//! Safety: the configuration that bounds what policies may do. The checker reads
//! it to reject at check time what could only break a rule; the operator's
//! safety controller (rate limits, cooldowns, circuit breaker, approvals) reads
//! the same configuration at run time.

mod config;

pub use config::{ConfigError, ForbiddenAction, SafetyConfig};
