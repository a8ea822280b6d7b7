//! Compiling a policy object's text, which is untrusted input from whoever
//! may create one: on a thread of its own with a stack of known size (the
//! compiler bounds its nesting, and the tests prove it at a much smaller
//! stack) and within a time bound, so that no policy can crash or stall the
//! operator. The API server has already refused texts past
//! [`super::crd::MAX_POLICY_CHARS`].

use crate::check::{compile_in, Compiled, Host};
use crate::diagnostic::render;
use crate::safety::SafetyConfig;
use std::sync::mpsc;
use std::time::Duration;

/// The stack of the compiling thread: far more than the nesting the
/// compiler accepts needs.
const STACK_BYTES: usize = 8 * 1024 * 1024;

/// How long one compilation may take. The largest text the schema allows
/// compiles in milliseconds; past this something is wrong, and the policy is
/// reported as such rather than waited for.
pub const TIME_BOUND: Duration = Duration::from_secs(10);

/// A policy object's text, compiled.
#[derive(Debug)]
pub struct Checked {
    pub compiled: Compiled,
    /// The diagnostics as `kubeskippy check` prints them (no colour), for
    /// `kubectl describe`.
    pub rendered: String,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.compiled.diagnostics.len() - self.errors()
    }
}

/// Why a text could not be compiled at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileFailure {
    #[error("compilation took longer than {0:?}")]
    TooSlow(Duration),
    #[error("the compiler failed on this text; please report it: {0}")]
    Crashed(String),
    #[error("cannot start a thread to compile on: {0}")]
    NoThread(String),
}

/// Which kind of policy object a text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A `HealingPolicy` in this namespace.
    Namespaced(String),
    /// A `ClusterHealingPolicy`.
    Cluster,
}

/// Compiles `source` as the text of a policy object of `scope`, under
/// `config`; `name` is what rendered diagnostics call the text
/// (`shop/checkout-memory`).
pub fn compile_untrusted(
    source: String,
    config: SafetyConfig,
    scope: Scope,
    name: String,
) -> Result<Checked, CompileFailure> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("compile-policy".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let host = match &scope {
                Scope::Namespaced(namespace) => Host::HealingPolicy { namespace },
                Scope::Cluster => Host::ClusterHealingPolicy,
            };
            let compiled = compile_in(&source, &config, host);
            let rendered = render(&compiled.diagnostics, &name, &source, false);
            // The receiver may have given up waiting; nothing to do then.
            let _ = sender.send(Checked { compiled, rendered });
        })
        .map_err(|e| CompileFailure::NoThread(e.to_string()))?;
    match receiver.recv_timeout(TIME_BOUND) {
        Ok(checked) => Ok(checked),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(CompileFailure::TooSlow(TIME_BOUND)),
        // The thread ended without an answer: it panicked.
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(CompileFailure::Crashed(
            "the compiling thread ended without a result".into(),
        )),
    }
}
