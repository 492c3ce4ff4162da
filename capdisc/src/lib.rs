//! capdisc: discover which Linux capabilities a service really uses, from the kernel's own
//! capability checks, and turn them into hardening configuration.
//!
//! Modules, one concern each, from the bottom up (each folder one layer):
//! - helpers and facts: `error`, `support` (clock, atomic files, console: what capdisc prints),
//!   `caps` (names, numbers, masks; `danger`, the root-equivalent ones), `kernel` (privileges
//!   and BTF, type offsets, kallsyms, tracefs, system calls, errno names, procfs, the cgroup v2
//!   mount, the programs' log);
//! - the host and the kernel side: `host` (cgroups, pid trees, credentials, spawning), `guardian`
//!   (undo on any death of capdisc: the process, its pipe, its undo actions), `probe`
//!   (the eBPF object, backend selection, draining and writing its maps, the phase marker);
//! - the service managers: `systemd` (names, unit files and merge rules, the live view,
//!   drop-ins, restarts, the guardian) and `container` (runtimes, run commands, container
//!   targets);
//! - what is traced: `scope` (the target model: command, pid, cgroup, unit, container, all) and
//!   `session` (one tracing session shared by `record` and `trace`);
//! - judging: `classify` (verdict rules as data), `sandbox` (the refusals of a target's sandbox
//!   and the unit setting behind each), `profile` (the versioned document, built from
//!   drained data; its terminal table, diff, merge), `coverage` (paths not exercised);
//! - the subcommands: `record`, `trace`, `watch` (months-long recording, metrics, creep, and its
//!   host `report`), `prove` (`verify`, `minimize`), `generate`, `harden` (`apply`, `lint`,
//!   `status`), and `cli` (arguments and dispatch).
pub mod caps;
pub mod classify;
pub mod cli;
pub mod container;
pub mod coverage;
pub mod error;
pub mod generate;
pub mod guardian;
pub mod harden;
pub mod host;
pub mod kernel;
pub mod probe;
pub mod profile;
pub mod prove;
pub mod record;
pub mod sandbox;
pub mod scope;
pub mod session;
pub mod support;
pub mod systemd;
pub mod trace;
pub mod watch;
