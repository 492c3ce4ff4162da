//! capdisc: discover which Linux capabilities a service really uses, from the kernel's own
//! capability checks, and turn them into hardening configuration.
//!
//! Modules, one concern each: `caps` (names, numbers, masks), `syscalls`, `kallsyms`,
//! `tracefs`, `probe` (the eBPF object and backend selection), `target` (what to record),
//! `record` (the recording session and draining), `classify` (verdict rules as data),
//! `profile` (the versioned document, diff, merge), `report` (terminal output),
//! `generate` (output formats), `systemd` (units, merge rules, drop-ins), `apply`, `lint`,
//! `status` (five sets of a process, decode), `cli`.
pub mod apply;
pub mod btf;
pub mod caps;
pub mod classify;
pub mod clock;
pub mod cli;
pub mod error;
pub mod generate;
pub mod kallsyms;
pub mod lint;
mod kernel_log;
pub mod privileges;
pub mod probe;
pub mod profile;
pub mod record;
pub mod report;
pub mod session;
pub mod status;
pub mod syscalls;
pub mod systemd;
pub mod target;
pub mod trace;
pub mod tracefs;
