//! capdisc: discover which Linux capabilities a service really uses, from the kernel's own
//! capability checks, and turn them into hardening configuration.
//!
//! Modules, one concern each, from the bottom up:
//! - facts and helpers: `caps` (names, numbers, masks), `danger` (root-equivalent capabilities), `syscalls`, `kallsyms`, `btf` (offsets
//!   from kernel BTF), `tracefs`, `clock`, `files` (atomic writes), `error`, `privileges`;
//! - the kernel side: `probe` (the eBPF object, backend selection, draining its maps);
//! - what is traced: `scope` (command, pid, cgroup, unit, all) and `session` (one tracing
//!   session shared by `record` and `trace`);
//! - judging: `classify` (verdict rules as data), `profile` (the versioned document, built from
//!   drained data; diff, merge);
//! - systemd: `systemd` (names, unit files and merge rules, the live view, drop-ins, restarts);
//! - the subcommands: `record`, `trace`, `watch` (months-long recording, metrics, creep, and its
//!   host `report`), `prove` (`verify`, `minimize`), `report`, `generate`,
//!   `apply`, `lint`, `status`, and
//!   `cli` (arguments and dispatch).
pub mod apply;
pub mod btf;
pub mod caps;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod coverage;
pub mod danger;
pub mod error;
pub mod files;
pub mod generate;
pub mod kallsyms;
mod kernel_log;
pub mod lint;
pub mod privileges;
pub mod probe;
pub mod profile;
pub mod prove;
pub mod record;
pub mod report;
pub mod scope;
pub mod session;
pub mod status;
pub mod syscalls;
pub mod systemd;
pub mod trace;
pub mod tracefs;
pub mod watch;
