//! The kernel side as userspace sees it: the embedded eBPF object, choosing and attaching a
//! backend (`backend`), the constants and map sizes set at load time (`object`), and reading
//! back what the kernel programs kept (`drain`); what userspace writes into the target maps
//! (`targets`, and a trial's `phase` marker), and what `watch` takes out of them (`forget`)
//! or hands its cgroup mkdir program (`mkdir`).
mod backend;
mod drain;
mod forget;
mod mkdir;
mod object;
mod phase;
mod targets;

pub use drain::{checks, comm_text, counters, drain, drain_new_stacks, Drained};
pub use forget::{forget_keys, reread, take_cgroup_names};
pub use mkdir::follow_mkdir;

pub use backend::{Backend, BackendChoice};
pub use object::{attach_floor, MapLimits, ProbeConfig, Probes, StreamConfig};
pub use phase::PhaseMarker;
pub use targets::{insert_cgroup, insert_pids, remove_cgroup, target_pids};
