//! The operator: its custom resources, and (to come) the controllers that
//! watch them, the evaluation loop and the Kubernetes executors.
//!
//! Everything here does I/O or describes objects of the Kubernetes API, so it
//! lives behind the `operator` cargo feature; the compiler and the engine it
//! drives stay pure.

pub mod crd;
