//! capdisc: discover which Linux capabilities a service really uses, from the kernel's own
//! capability checks, and turn them into hardening configuration.
//!
//! Modules, one concern each: `caps` (names, numbers, masks), `syscalls`, `kallsyms`,
//! `tracefs`, `probe` (the eBPF object and backend selection), `target` (what to record),
//! `record` (the recording session and draining), `classify` (verdict rules as data),
//! `profile` (the versioned document), `report` (terminal output), `cli`.
pub mod caps;
pub mod classify;
pub mod cli;
pub mod error;
pub mod kallsyms;
mod kernel_log;
pub mod privileges;
pub mod probe;
pub mod profile;
pub mod record;
pub mod report;
pub mod syscalls;
pub mod target;
pub mod tracefs;
