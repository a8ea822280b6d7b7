//! The evaluation engine: what the operator decides, computed from what it
//! observed.
//!
//! Invariants (the operator, `kubeskippy test` and the simulator all rely on
//! them, so that a test or a simulation shows exactly what a cluster will see):
//!
//! - **Pure.** Every input is an argument: observations, the time `now`, the
//!   previous state. Same arguments, same answer, on every machine.
//! - **No clock.** Nothing here reads the system time; `now` is given in whole
//!   seconds since the Unix epoch (or since the start of a simulation: only
//!   differences matter).
//! - **No I/O.** Fetching metrics lives in `observe/`, acting in `act/`.
//! - **Never panics, on any value.** Samples come from a cluster: unsorted,
//!   duplicated, NaN, ±∞, absurd timestamps. Anything that cannot be computed
//!   is `None` (unknown), never a panic and never a non-finite number, so that
//!   missing data stays unknown (LANGUAGE.md §4) instead of becoming a value.

mod batch;
mod choose;
pub mod counter_total;
mod decide;
mod decision;
pub mod evidence;
mod gap;
mod limits;
pub mod observation;
mod select;
pub mod series;
pub mod state;
mod targets;
mod timers;
pub mod truth;
pub mod why;
pub mod window;

pub use decide::{
    evaluate, evaluate_watch, Context, Evaluation, OUTAGE_TOLERANCE, REQUEST_TIMEOUT,
};
pub use decision::{Block, Candidate, Decision, WaitReason, Waiting};
pub use evidence::Evidence;
pub use why::{Explain, Standing, Stood};
