//! Sandbox refusals: the system calls a target's sandbox refused, from the kernel's evidence
//! (the `sandbox` programs: a call refused at entry by a seccomp filter, or failed by the file
//! system the target sees), and the setting of the unit that refused each, with the narrowest
//! fix. `trace` prints them beside capability denials.
mod attribute;
mod settings;
mod syscall_groups;

pub use attribute::{attribute, family_name, family_number, fix_text, Attribution};
pub use settings::{resolve_filter, Settings};

pub use syscall_groups::SyscallGroups;

use capdisc_common::{refusal, RefusalKey, RefusalStats};

use crate::kernel::{errno, syscalls};

/// What refused a call; the profile's `by` and `trace --json`'s `refused.by` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum RefusedBy {
    /// Refused at entry by a seccomp filter.
    #[serde(rename = "seccomp")]
    Seccomp,
    /// Failed by the file system the target sees (read-only, hidden).
    #[serde(rename = "file system")]
    FileSystem,
    /// An exec of a setuid or setgid file that gained nothing.
    #[serde(rename = "exec")]
    Exec,
}

impl RefusedBy {
    /// Its name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            RefusedBy::Seccomp => "seccomp",
            RefusedBy::FileSystem => "file system",
            RefusedBy::Exec => "exec",
        }
    }
}

/// One kind of refusal, read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub syscall: String,
    pub number: i32,
    pub kind: RefusedBy,
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
            syscall: if key.how == refusal::NO_GAIN { "execve".into() } else { syscalls::name(key.syscall) },
            number: key.syscall,
            kind: match key.how {
                refusal::SKIPPED => RefusedBy::Seccomp,
                refusal::NO_GAIN => RefusedBy::Exec,
                _ => RefusedBy::FileSystem,
            },
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
        match (self.kind, self.errno()) {
            (RefusedBy::Seccomp, Some(errno)) => format!("{call} refused by a seccomp filter ({errno})"),
            (RefusedBy::Seccomp, None) => format!("{call} refused by a seccomp filter (trapped or killed: SIGSYS)"),
            (RefusedBy::FileSystem, Some(errno)) => format!("{call} failed: {errno}"),
            (RefusedBy::FileSystem, None) => format!("{call} failed"),
            (RefusedBy::Exec, _) => {
                let gain = self.gain();
                let bit =
                    if gain.setuid { format!("setuid bit (owner {})", gain.owner) } else { format!("setgid bit (group {})", gain.group) };
                format!("{call} gained nothing from the {bit}: euid {}, egid {}", gain.euid, gain.egid)
            }
        }
    }

    /// An exec that gained nothing: what the kernel read (see `capdisc_common::refusal::NO_GAIN`).
    pub fn gain(&self) -> Gain {
        let [mode, file, new, nnp] = self.args;
        Gain {
            setuid: mode & 0o4000 != 0,
            owner: file as u32,
            group: (file >> 32) as u32,
            euid: new as u32,
            egid: (new >> 32) as u32,
            no_new_privs: nnp & 1 != 0,
        }
    }
}

/// An exec of a setuid or setgid file, as the kernel saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gain {
    /// The setuid bit (otherwise setgid) is what gave nothing.
    pub setuid: bool,
    pub owner: u32,
    pub group: u32,
    pub euid: u32,
    pub egid: u32,
    /// The task had `no_new_privs` set.
    pub no_new_privs: bool,
}
