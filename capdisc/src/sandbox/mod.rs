//! Sandbox refusals: the system calls a target's sandbox refused, from the kernel's evidence
//! (the `sandbox` programs: a call refused at entry by a seccomp filter, or failed by the file
//! system the target sees), and the setting of the unit that refused each, with the narrowest
//! fix. `trace` prints them beside capability denials.
mod attribute;
mod settings;
mod syscall_groups;

pub use attribute::{attribute, family_name, family_number, Attribution};
pub use settings::{resolve_filter, Settings};
pub use syscall_groups::SyscallGroups;

use capdisc_common::{refusal, RefusalKey, RefusalStats};

use crate::kernel::{errno, syscalls};

/// One kind of refusal, read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub syscall: String,
    pub number: i32,
    /// Refused at entry (a seccomp filter), or failed by the file system.
    pub at_entry: bool,
    /// What the call returned: a negative errno, or its own number when a filter trapped or
    /// killed it.
    pub returned: i64,
    pub args: [u64; 4],
    pub path: Option<String>,
    pub comm: String,
    pub count: u64,
}

impl Refused {
    pub fn from_kernel(key: &RefusalKey, stats: &RefusalStats) -> Self {
        let path_len = (stats.path_len as usize).saturating_sub(1).min(stats.path.len());
        Self {
            syscall: syscalls::name(key.syscall),
            number: key.syscall,
            at_entry: key.how == refusal::SKIPPED,
            returned: key.ret,
            args: stats.args,
            path: (path_len > 0).then(|| String::from_utf8_lossy(&stats.path[..path_len]).into_owned()),
            comm: crate::probe::comm_text(&stats.comm),
            count: stats.count,
        }
    }

    /// The errno returned (`EPERM`...), or None when a filter trapped or killed the call.
    pub fn errno(&self) -> Option<String> {
        (self.returned < 0).then(|| errno::name(self.returned.unsigned_abs()))
    }

    /// `adjtimex() refused by a seccomp filter (EPERM)`, `openat(/var/lib/x) failed: EROFS`.
    pub fn describe(&self) -> String {
        let call = match (&self.path, self.syscall.as_str()) {
            (Some(path), _) => format!("{}({path})", self.syscall),
            (None, "socket" | "socketpair") => format!("{}({})", self.syscall, attribute::family_name(self.args[0] as u32)),
            (None, _) => format!("{}()", self.syscall),
        };
        match (self.at_entry, self.errno()) {
            (true, Some(errno)) => format!("{call} refused by a seccomp filter ({errno})"),
            (true, None) => format!("{call} refused by a seccomp filter (trapped or killed: SIGSYS)"),
            (false, Some(errno)) => format!("{call} failed: {errno}"),
            (false, None) => format!("{call} failed"),
        }
    }
}
