//! Named targets by path and name, not by inode: a `--cgroup` path that is removed and made again
//! is counted again from its first new task (the kernel's `cgroups` program arms the new id on
//! its mkdir; each scan re-arms what it could not follow), and a target missing at the start or
//! gone later is waited for while the others are counted. Each change is said once on stderr and
//! shows in `capdisc_target_present{target}`.
use crate::support::console;
use std::{
    collections::{BTreeMap, HashSet},
    path::Path,
};

use aya::Ebpf;
use capdisc_common::{cgroup_state, MAX_WATCH_PATHS, WATCH_PATH_LEN};

use super::metrics::Metrics;
use crate::{
    error::Error,
    host::CgroupPath,
    kernel::tracefs,
    probe::{follow_mkdir, insert_cgroup, remove_cgroup},
};

/// A `--cgroup` target: where it is, and the cgroup id the kernel filter has for it now.
struct WatchedPath {
    path: CgroupPath,
    armed: Option<u64>,
}

pub struct Presence {
    paths: Vec<WatchedPath>,
    units: Vec<String>,
    /// The kernel filters by cgroup (the ids must be armed); otherwise attribution is by path.
    by_cgroup: bool,
    present: BTreeMap<String, bool>,
    quiet: bool,
}

/// A `--cgroup` argument, whether it exists now or not; a path that climbs out (`..`) is refused.
pub fn locate(path: &Path) -> Result<CgroupPath, Error> {
    let located = CgroupPath::of_user_path(path)?;
    if located.relative.split('/').any(|part| part == ".." || part == ".") {
        let mount = crate::kernel::cgroup2_mount()?;
        return Err(Error::Usage(format!("--cgroup {}: give a plain path under {}", path.display(), mount.display())));
    }
    Ok(located)
}

impl Presence {
    pub fn new(cgroups: &[CgroupPath], units: &[String], by_cgroup: bool, quiet: bool) -> Self {
        let paths = cgroups.iter().map(|path| WatchedPath { path: path.clone(), armed: None }).collect();
        Self { paths, units: units.to_vec(), by_cgroup, present: BTreeMap::new(), quiet }
    }

    /// Hands the watched paths to the kernel's mkdir program and attaches it (cgroup filter
    /// only). Where it cannot (no `cgroup:cgroup_mkdir` event, a path too long, more than
    /// `MAX_WATCH_PATHS`), the scans re-arm, and what a re-created cgroup did before the next
    /// scan is not counted: said here.
    /// Attributing in userspace (no cgroup filter), it names every new cgroup instead.
    pub fn follow_in_kernel(&self, ebpf: &mut Ebpf, tracefs: &Path, level: u32) -> Result<(), Error> {
        let name_all = !self.by_cgroup;
        if self.by_cgroup && self.paths.is_empty() {
            return Ok(());
        }
        let followed = self.paths.iter().filter(|path| path.path.relative.len() < WATCH_PATH_LEN).count();
        let warn = |why: &str| match name_all {
            true => console::warning!("{why}: a cgroup that comes and goes between two scans is counted as (unnamed cgroups)"),
            false => console::warning!(
                "{why}: a re-created --cgroup is armed at the next scan (within 1 s), and what it does before that is not counted"
            ),
        };
        if self.by_cgroup && (followed < self.paths.len() || self.paths.len() > MAX_WATCH_PATHS as usize) {
            warn(&format!("more than {MAX_WATCH_PATHS} paths, or one longer than {} bytes", WATCH_PATH_LEN - 1));
        }
        if !tracefs::has_event(tracefs, "cgroup", "cgroup_mkdir") {
            warn("this kernel has no cgroup:cgroup_mkdir tracepoint");
            return Ok(());
        }
        let followed: Vec<&str> = self
            .paths
            .iter()
            .filter(|path| self.by_cgroup && path.path.relative.len() < WATCH_PATH_LEN)
            .take(MAX_WATCH_PATHS as usize)
            .map(|path| path.path.relative.as_str())
            .collect();
        // A kernel that refuses the program still gets every target counted: re-armed by scans.
        let attached = follow_mkdir(ebpf, tracefs, &followed, level, name_all)?;
        if let Err(why) = attached {
            warn(&why);
        }
        Ok(())
    }

    /// Looks at every named target: arms a `--cgroup` path's new cgroup (and forgets its old id),
    /// says what appeared or went, and sets the presence gauge. A `--unit` is there when the
    /// ledger's last scan found a live cgroup of it (`live_targets`).
    pub fn refresh(&mut self, ebpf: &mut Ebpf, metrics: &Metrics, live_targets: &HashSet<String>) -> Result<(), Error> {
        let mut seen = Vec::new();
        for path in &mut self.paths {
            let id = path.path.id_now();
            if self.by_cgroup && id.is_some() && id != path.armed {
                if let Some(old) = path.armed {
                    remove_cgroup(ebpf, old)?;
                }
                if let Some(id) = id {
                    insert_cgroup(ebpf, id, cgroup_state::RECORDING)?;
                }
            }
            if id.is_some() {
                path.armed = id;
            }
            seen.push((path.path.relative.clone(), id.is_some(), "cgroup"));
        }
        for unit in &self.units {
            seen.push((unit.clone(), live_targets.contains(unit), "unit"));
        }
        for (target, present, kind) in seen {
            let before = self.present.insert(target.clone(), present);
            metrics.set_present(&target, present);
            if self.quiet || before == Some(present) {
                continue;
            }
            match (before, present) {
                (None, true) | (Some(true), true) => {}
                (None, false) => console::say!("{kind} {target} is not there yet: waiting for it; the other targets are counted"),
                (Some(false), true) => console::say!("{kind} {target} is there again: counting it"),
                (Some(_), false) => {
                    console::say!("{kind} {target} is gone: waiting for it to come back; the other targets are counted")
                }
            }
        }
        Ok(())
    }
}
