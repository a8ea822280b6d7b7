//! KubeSkippy: a Kubernetes operator that heals applications by policies written
//! in Skippy, a small typed language.
//!
//! The pipeline, each stage a module: [`syntax`] parses text into an AST,
//! [`check`] resolves and type-checks it against the [`catalog`] and the safety
//! configuration into the typed [`ir`]; the [`engine`] evaluates it against
//! observations, and [`sim`] makes observations for tests and simulations.
//! Everything here is pure: no I/O, no clock.

pub mod act;
pub mod ai;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod engine;
pub mod explain;
pub mod fmt;
pub mod ide;
pub mod import;
pub mod ir;
#[cfg(feature = "operator")]
pub mod observe;
#[cfg(feature = "operator")]
pub mod operator;
pub mod safety;
pub mod sim;
pub mod span;
pub mod syntax;
