//! The Skippy language server's protocol layer: JSON-RPC over stdio (on
//! rust-analyzer's `lsp-server`, with a reader of our own), the document store with incremental sync,
//! UTF-16 positions, debounced diagnostics, and the conversion of analysis
//! results to LSP types.
//!
//! Invariant: this crate knows nothing of Skippy. The language itself comes in
//! through the [`Analysis`] trait, which speaks byte offsets into the document
//! text; the `kubeskippy` package implements it (`kubeskippy::ide`) and starts
//! [`run_stdio`] from `kubeskippy lsp`. Keeping the dependency one way round is
//! what lets the binary embed the server without a package cycle.

pub mod analysis;
mod convert;
pub mod document;
pub mod line_index;
mod server;
mod transport;

pub use analysis::*;
pub use convert::diagnostics as lsp_diagnostics;
pub use document::Document;
pub use line_index::LineIndex;
/// The protocol types, re-exported so callers use the server's version.
pub use lsp_types;
pub use server::{
    capabilities, run_stdio, serve, skippy_documents, Config, EndedWithoutShutdown, TOO_LARGE,
};
