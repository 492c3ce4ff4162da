//! Integration tests that load the real eBPF programs on this kernel and run real workloads:
//! they need root. Without it each test says it is skipped (`cargo test` as a normal user still
//! runs the pure tests in `pure.rs` and the unit tests).
#[path = "../common/mod.rs"]
mod common;

mod backends;
mod errors;
mod fleet;
mod follow;
mod prove;
mod record;
mod sandbox;
mod status;
mod trace;
mod trials;
mod watch;
mod watching;
