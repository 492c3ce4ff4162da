//! The profile's `activity`: what the target did that the sandboxing settings depend on, read
//! from the sandbox programs' maps (`ACTIVITY`, `ACTIVITY_PATHS`): the system calls it made by
//! name, the socket families it opened, the namespaces it made or joined, memory it made
//! writable and executable, personalities and realtime policies it asked for, set-id bits it
//! set, and the paths it wrote or opened under `/dev`, `/proc`, `/sys`, `/home`, `/root`, `/run`.
//! `sandbox::candidates` turns it into settings.
use std::collections::BTreeMap;

use capdisc_common::{activity, counter, ActivityKey, ActivityPathKey};
use serde::{Deserialize, Serialize};

use crate::{
    kernel::syscalls::{self, CLONE_NEW_ANY, NAMESPACES, PROT_WRITE_EXEC, SET_ID_BITS},
    probe::Drained,
};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Every system call made, by name, with how many times.
    pub syscalls: BTreeMap<String, u64>,
    /// Socket families asked for (`socket`, `socketpair`): `AF_UNIX`, `AF_INET`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<String>,
    /// Namespaces made or joined (`clone`, `clone3`, `unshare`, `setns`): `mnt`, `net`...; `any`
    /// when a `setns` did not say which.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Calls that mapped memory writable and executable, or made it executable (`mmap` with
    /// PROT_WRITE|PROT_EXEC, `mprotect` with PROT_EXEC): what `MemoryDenyWriteExecute=` refuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_exec: Vec<String>,
    /// Personalities set (`personality` with anything but the query 0xffffffff).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personalities: Vec<String>,
    /// Realtime scheduling policies asked for (`SCHED_FIFO`, `SCHED_RR`, `SCHED_DEADLINE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realtime: Vec<String>,
    /// Calls that set a file's setuid or setgid bit (`chmod`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_id: Vec<String>,
    /// Paths written (opened for writing, created, removed, renamed, changed), and paths opened
    /// under `/dev`, `/proc`, `/sys`, `/home`, `/root` or `/run`; by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathUse>,
    /// Kinds of system call (number and detail) the kernel could not keep: its map was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub calls_lost: u64,
    /// Paths the kernel could not keep: their map was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paths_lost: u64,
}

/// One path the target used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathUse {
    /// As the call named it (relative ones are relative to the working directory).
    pub path: String,
    /// Written (not only opened to read).
    pub written: bool,
    /// Relative to a directory descriptor: where it is cannot be told from the path.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub beside_fd: bool,
    /// The calls that named it.
    pub syscalls: Vec<String>,
    pub count: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl Activity {
    /// What the sandbox programs kept; None when they were not attached (nothing kept).
    pub fn from_kernel(drained: &Drained) -> Option<Self> {
        if drained.activity.is_empty() {
            return None;
        }
        let mut activity = Self {
            calls_lost: drained.counters[counter::ACTIVITY_MAP_FULL as usize],
            paths_lost: drained.counters[counter::ACTIVITY_PATHS_MAP_FULL as usize],
            ..Self::default()
        };
        for (key, count) in &drained.activity {
            activity.add_call(key, *count);
        }
        let mut paths: BTreeMap<(String, bool, bool), PathUse> = BTreeMap::new();
        for (key, count) in &drained.activity_paths {
            let used = path_use(key, *count);
            let entry = paths.entry((used.path.clone(), used.written, used.beside_fd)).or_insert_with(|| PathUse {
                count: 0,
                syscalls: Vec::new(),
                ..used.clone()
            });
            entry.count += used.count;
            for call in used.syscalls {
                if !entry.syscalls.contains(&call) {
                    entry.syscalls.push(call);
                }
            }
        }
        activity.paths = paths.into_values().collect();
        activity.tidy();
        Some(activity)
    }

    fn add_call(&mut self, key: &ActivityKey, count: u64) {
        let name = syscalls::name(key.syscall);
        *self.syscalls.entry(name.clone()).or_default() += count;
        let detail = key.detail;
        match name.as_str() {
            "socket" | "socketpair" => self.families.push(crate::sandbox::family_name(detail)),
            "clone" | "clone3" | "unshare" if detail & CLONE_NEW_ANY != 0 => {
                self.namespaces.extend(NAMESPACES.iter().filter(|(bit, _)| detail & bit != 0).map(|(_, name)| (*name).to_owned()))
            }
            "setns" if detail == 0 => self.namespaces.push("any".into()),
            "setns" => self.namespaces.extend(NAMESPACES.iter().filter(|(bit, _)| detail & bit != 0).map(|(_, name)| (*name).to_owned())),
            "mmap" if detail & PROT_WRITE_EXEC == PROT_WRITE_EXEC => self.write_exec.push("mmap PROT_WRITE|PROT_EXEC".into()),
            "mprotect" | "pkey_mprotect" if detail & 0x4 != 0 => self.write_exec.push(format!("{name} PROT_EXEC")),
            "personality" if detail != u32::MAX => self.personalities.push(format!("{detail:#x}")),
            "sched_setscheduler" | "sched_setattr" => match detail {
                1 => self.realtime.push("SCHED_FIFO".into()),
                2 => self.realtime.push("SCHED_RR".into()),
                6 => self.realtime.push("SCHED_DEADLINE".into()),
                _ => {}
            },
            "chmod" | "fchmod" | "fchmodat" | "fchmodat2" if detail & SET_ID_BITS != 0 => self.set_id.push(format!("{name} {detail:04o}")),
            _ => {}
        }
    }

    /// Sorted, each once.
    fn tidy(&mut self) {
        for list in
            [&mut self.families, &mut self.namespaces, &mut self.write_exec, &mut self.personalities, &mut self.realtime, &mut self.set_id]
        {
            list.sort();
            list.dedup();
        }
    }

    /// Adds another recording's activity (`merge`).
    pub fn add(&mut self, other: &Self) {
        for (name, count) in &other.syscalls {
            *self.syscalls.entry(name.clone()).or_default() += count;
        }
        self.families.extend(other.families.iter().cloned());
        self.namespaces.extend(other.namespaces.iter().cloned());
        self.write_exec.extend(other.write_exec.iter().cloned());
        self.personalities.extend(other.personalities.iter().cloned());
        self.realtime.extend(other.realtime.iter().cloned());
        self.set_id.extend(other.set_id.iter().cloned());
        for used in &other.paths {
            match self
                .paths
                .iter_mut()
                .find(|mine| mine.path == used.path && mine.written == used.written && mine.beside_fd == used.beside_fd)
            {
                Some(mine) => {
                    mine.count += used.count;
                    for call in &used.syscalls {
                        if !mine.syscalls.contains(call) {
                            mine.syscalls.push(call.clone());
                        }
                    }
                }
                None => self.paths.push(used.clone()),
            }
        }
        self.paths.sort_by(|a, b| (&a.path, a.written, a.beside_fd).cmp(&(&b.path, b.written, b.beside_fd)));
        self.calls_lost += other.calls_lost;
        self.paths_lost += other.paths_lost;
        self.tidy();
    }

    /// Nothing could be lost: every call and path was kept.
    pub fn complete(&self) -> bool {
        self.calls_lost == 0 && self.paths_lost == 0
    }

    /// The paths written.
    pub fn written(&self) -> impl Iterator<Item = &PathUse> {
        self.paths.iter().filter(|used| used.written)
    }
}

fn path_use(key: &ActivityPathKey, count: u64) -> PathUse {
    let len = key.path.iter().position(|byte| *byte == 0).unwrap_or(key.path.len());
    PathUse {
        path: String::from_utf8_lossy(&key.path[..len]).into_owned(),
        written: key.access & activity::WRITTEN != 0,
        beside_fd: key.access & activity::BESIDE_FD != 0,
        syscalls: vec![syscalls::name(key.syscall)],
        count,
    }
}
