//! Simulation inputs: what `kubeskippy test` and `kubeskippy simulate` feed the
//! engine instead of a cluster.
//!
//! Pure like the engine: a simulation's clock is virtual and every input is
//! given, so the same input always produces the same output.

pub mod notation;
pub mod unit_test;
