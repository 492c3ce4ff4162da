//! The kernel side as userspace sees it: the embedded eBPF object, choosing and attaching a
//! backend (`backend`), and the constants and map sizes set at load time (`object`).
mod backend;
mod object;

pub use backend::{Backend, BackendChoice};
pub use object::{MapLimits, ProbeConfig, Probes, StreamConfig};
