//! The kernel side as userspace sees it: the embedded eBPF object, choosing and attaching a
//! backend (`backend`), the constants and map sizes set at load time (`object`), and reading
//! back what the kernel programs kept (`drain`).
mod backend;
mod drain;
mod object;

pub use drain::{checks, comm_text, counters, drain, drain_new_stacks, Drained};

pub use backend::{Backend, BackendChoice};
pub use object::{attach_floor, MapLimits, ProbeConfig, Probes, StreamConfig};
