//! The host's process plumbing every layer above uses: cgroup v2 directories (capdisc's own
//! leaves, opening, naming, delegating, removing), processes and their trees (`pid`), running a
//! command as another user the way systemd's `User=` does (`credentials`), and spawning a
//! command into a cgroup (`spawn`).
pub mod cgroup;
mod credentials;
pub mod pid;
mod spawn;

pub use cgroup::{remove_trial_cgroups, Cgroup, CgroupNames, CgroupPath};
pub use credentials::{passwd_of_uid, Passwd, RunAs};
pub use spawn::{exit_code_of, spawn_in_cgroup};
