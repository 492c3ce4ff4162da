//! cgroup v2: finding the mount, opening a cgroup (its id is the directory's inode number,
//! which is what `bpf_get_current_cgroup_id()` returns), creating and removing capdisc's own
//! leaf for spawned commands, and naming cgroup ids after the fact (for `--all`).
use std::{
    collections::HashMap,
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use crate::{
    error::Error,
    kernel::{cgroup2_mount, procfs},
};

#[derive(Clone, Debug)]
pub struct Cgroup {
    /// Absolute path in the filesystem.
    pub path: PathBuf,
    /// Path relative to the cgroup v2 root, starting with `/`.
    pub relative: String,
    pub id: u64,
    /// Depth below the root (the root is 0).
    pub level: u32,
    /// Created by capdisc (removed when recording ends).
    owned: bool,
}

/// Where a cgroup given by the user is, whether it exists now or not: an absolute filesystem
/// path under the cgroup v2 mount, or a path relative to the cgroup v2 root
/// (`/system.slice/nginx.service`).
#[derive(Clone, Debug)]
pub struct CgroupPath {
    pub absolute: PathBuf,
    /// Relative to the cgroup v2 root, starting with `/`.
    pub relative: String,
    /// Depth below the root (the root is 0).
    pub level: u32,
}

impl CgroupPath {
    pub fn of_user_path(path: &Path) -> Result<Self, Error> {
        let mount = cgroup2_mount()?;
        let absolute = if path.starts_with(&mount) { path.to_path_buf() } else { mount.join(path.strip_prefix("/").unwrap_or(path)) };
        Ok(Self::at(&mount, &absolute))
    }

    fn at(mount: &Path, absolute: &Path) -> Self {
        let relative_path = absolute.strip_prefix(mount).unwrap_or(absolute);
        let level = relative_path.components().count() as u32;
        Self { absolute: absolute.to_path_buf(), relative: format!("/{}", relative_path.display()), level }
    }

    /// The id of the cgroup there now (its directory's inode), if there is one.
    pub fn id_now(&self) -> Option<u64> {
        let metadata = fs::metadata(&self.absolute).ok()?;
        (metadata.is_dir() && self.absolute.join("cgroup.procs").exists()).then(|| metadata.ino())
    }
}

impl Cgroup {
    /// A cgroup given by the user (see [`CgroupPath`]), which must exist.
    pub fn open_user_path(path: &Path) -> Result<Self, Error> {
        let mount = cgroup2_mount()?;
        Self::open(&mount, &CgroupPath::of_user_path(path)?.absolute, false)
    }

    fn open(mount: &Path, absolute: &Path, owned: bool) -> Result<Self, Error> {
        let metadata = fs::metadata(absolute).map_err(|_| {
            Error::Target(format!(
                "no cgroup v2 directory {}; give a path under {} (see /proc/PID/cgroup, line 0::)",
                absolute.display(),
                mount.display()
            ))
        })?;
        if !metadata.is_dir() || !absolute.join("cgroup.procs").exists() {
            return Err(Error::Target(format!("{} is not a cgroup v2 directory", absolute.display())));
        }
        let CgroupPath { absolute, relative, level } = CgroupPath::at(mount, absolute);
        Ok(Self { path: absolute, relative, id: metadata.ino(), level, owned })
    }

    /// A new, empty leaf cgroup for a spawned command.
    pub fn create_leaf() -> Result<Self, Error> {
        Self::create_named("")
    }

    /// A new, empty leaf cgroup for a trial's check (`capdisc-PID-check-N`), outside the recorded
    /// one, so the check is neither counted nor able to outlive its trial.
    pub fn create_check_leaf() -> Result<Self, Error> {
        Self::create_named("check-")
    }

    /// `capdisc-PID-{role}N` under the cgroup v2 root: the guardian of a proof removes every
    /// `capdisc-PID-*` when capdisc dies.
    fn create_named(role: &str) -> Result<Self, Error> {
        let mount = cgroup2_mount()?;
        let path = mount.join(serial_name(role));
        fs::create_dir(&path).map_err(|err| {
            Error::input(format!("cannot create a cgroup at {}", path.display()), err, "; capdisc needs a writable cgroup v2 hierarchy")
        })?;
        Self::open(&mount, &path, true)
    }

    /// The cgroup a runtime will put a container it created in (docker's scope), made first,
    /// empty, and capdisc's to remove when the run ends (the runtime may have removed it).
    pub fn create_at(path: &Path) -> Result<Self, Error> {
        fs::create_dir_all(path)
            .map_err(|err| Error::input(format!("cannot create the container's cgroup {}", path.display()), err, ""))?;
        Self::open(&cgroup2_mount()?, path, true)
    }

    /// A new cgroup delegated to a user (`capdisc-PID-N`, as cgroup v2 delegation does it: the
    /// directory and its `cgroup.procs`, `cgroup.threads` and `cgroup.subtree_control` owned by
    /// `uid`:`gid`) with two delegated children: `client`, where the user's runtime client is
    /// started, and `container`, the target, under which the runtime makes the container's
    /// cgroup. A process may move between cgroups only when its writer owns their common
    /// ancestor: `client` and `container` share this one. Returns (parent, client, container).
    pub fn create_delegated(uid: u32, gid: u32) -> Result<(Self, Self, Self), Error> {
        let parent = Self::create_leaf()?;
        let child = |name: &str| -> Result<Self, Error> {
            let path = parent.path.join(name);
            fs::create_dir(&path).map_err(|err| Error::input(format!("cannot create the cgroup {}", path.display()), err, ""))?;
            Self::delegate_to(&path, uid, gid)?;
            Self::open(&cgroup2_mount()?, &path, true)
        };
        let made = Self::delegate_to(&parent.path, uid, gid).and_then(|()| Ok((child("client")?, child("container")?)));
        match made {
            Ok((client, container)) => Ok((parent, client, container)),
            Err(err) => {
                let _ = parent.kill_and_remove();
                Err(err)
            }
        }
    }

    /// Hands a cgroup capdisc made to `uid`:`gid` (a rootless user's service manager starts the
    /// container in it).
    pub fn delegate_to(path: &Path, uid: u32, gid: u32) -> Result<(), Error> {
        for file in ["", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"] {
            let target = path.join(file);
            std::os::unix::fs::chown(&target, Some(uid), Some(gid))
                .map_err(|err| Error::input(format!("cannot delegate the cgroup {} to uid {uid}", target.display()), err, ""))?;
        }
        Ok(())
    }

    /// Whether any task lives in this cgroup or below (`cgroup.events`: `populated 1`).
    pub fn populated(&self) -> bool {
        fs::read_to_string(self.path.join("cgroup.events"))
            .map(|events| events.lines().any(|line| line.trim() == "populated 1"))
            .unwrap_or(false)
    }

    /// The processes directly in this cgroup.
    pub fn processes(&self) -> Vec<u32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .map(|text| text.lines().filter_map(|line| line.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in this cgroup and below (`cgroup.kill`, Linux 5.14+; SIGKILL to each
    /// process on older kernels): a trial's service must not outlive its trial.
    pub fn kill_all(&self) {
        let by_kernel = fs::write(self.path.join("cgroup.kill"), "1").is_ok();
        for _ in 0..100 {
            if !self.populated() {
                return;
            }
            if !by_kernel {
                // One by one, again each round: a process may fork while it is being killed.
                for pid in self.processes() {
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills whatever runs in a cgroup capdisc created and removes it (a trial's workload or
    /// check ends with its trial). Err when it could not be removed.
    pub fn kill_and_remove(&self) -> Result<(), Error> {
        if !self.owned || self.kill_and_rmdir() {
            return Ok(());
        }
        Err(Error::Runtime(format!("cannot remove the trial cgroup {}: tasks survived cgroup.kill", self.path.display())))
    }

    fn kill_and_rmdir(&self) -> bool {
        self.kill_all();
        (0..100).any(|_| {
            // A container's runtime makes cgroups of its own below (its scope, `container`).
            remove_descendants(&self.path);
            let gone = fs::remove_dir(&self.path).is_ok() || !self.path.exists();
            if !gone {
                std::thread::sleep(Duration::from_millis(20));
            }
            gone
        })
    }

    /// Removes a cgroup capdisc created, whatever is left in it: processes the command left
    /// behind (daemons still running when the recording was stopped) are moved, alive, to the
    /// cgroup capdisc itself runs in first. Returns how many were moved, or the error.
    pub fn remove_if_owned(&self) -> Result<usize, Error> {
        if !self.owned || !self.path.exists() {
            return Ok(0);
        }
        let mut moved = 0;
        // Exiting tasks leave on their own; a few tries cover the ones still on their way out.
        for _ in 0..50 {
            if fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return Ok(moved);
            }
            let leftovers = self.processes();
            if !leftovers.is_empty() {
                let home = own_cgroup_procs()?;
                for pid in leftovers {
                    if fs::write(&home, pid.to_string()).is_ok() {
                        moved += 1;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Runtime(format!("cannot remove capdisc's cgroup {}: tasks remain in it", self.path.display())))
    }
}

/// Removes the (empty) cgroups below `path`, the deepest first.
fn remove_descendants(path: &Path) {
    for entry in fs::read_dir(path).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            remove_descendants(&entry.path());
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// A name of capdisc's own, `capdisc-PID-{role}N`, never given twice by one capdisc: a trial's
/// cgroup, or a container capdisc names.
pub fn serial_name(role: &str) -> String {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    format!("capdisc-{}-{role}{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed))
}

/// The guardian's sweep after capdisc `pid` died: kills and removes each `capdisc-PID-*` cgroup
/// under the cgroup v2 root (a trial's workload or check). Returns (removed, not removable).
pub fn remove_trial_cgroups(pid: u32) -> (usize, usize) {
    let Ok(mount) = cgroup2_mount() else { return (0, 0) };
    let prefix = format!("capdisc-{pid}-");
    let (mut removed, mut failed) = (0, 0);
    for entry in fs::read_dir(&mount).into_iter().flatten().flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let Ok(cgroup) = Cgroup::open(&mount, &entry.path(), true) else { continue };
        if cgroup.kill_and_rmdir() {
            removed += 1;
        } else {
            failed += 1;
        }
    }
    (removed, failed)
}

/// `cgroup.procs` of the cgroup capdisc itself runs in (from /proc/self/cgroup, line `0::`).
fn own_cgroup_procs() -> Result<PathBuf, Error> {
    let relative = procfs::cgroup_path(procfs::Proc::Own)
        .ok_or_else(|| Error::Kernel("/proc/self/cgroup has no cgroup v2 line (or cannot be read)".into()))?;
    Ok(cgroup2_mount()?.join(relative.trim_start_matches('/')).join("cgroup.procs"))
}

/// cgroup ids to paths, read from the cgroup v2 tree (for naming `--all` results).
pub struct CgroupNames {
    paths: HashMap<u64, String>,
}

impl CgroupNames {
    pub fn scan() -> Self {
        let mut paths = HashMap::new();
        if let Ok(mount) = cgroup2_mount() {
            let mut pending = vec![mount.clone()];
            while let Some(dir) = pending.pop() {
                if let Ok(metadata) = fs::metadata(&dir) {
                    let relative = dir.strip_prefix(&mount).unwrap_or(&dir);
                    paths.insert(metadata.ino(), format!("/{}", relative.display()));
                }
                if let Ok(entries) = fs::read_dir(&dir) {
                    pending.extend(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
                }
            }
        }
        Self { paths }
    }

    /// Adds what the tree holds now, keeping names of cgroups that are gone.
    pub fn rescan(&mut self) {
        let fresh = Self::scan();
        self.absorb(&fresh);
    }

    /// Adds another scan's names (a fresh scan of live cgroups), keeping the ones it lacks.
    pub fn absorb(&mut self, other: &Self) {
        self.paths.extend(other.paths.iter().map(|(id, path)| (*id, path.clone())));
    }

    /// Whether this scan saw the cgroup (for a fresh scan: whether it still exists).
    pub fn contains(&self, id: u64) -> bool {
        self.paths.contains_key(&id)
    }

    /// Every cgroup id of this scan.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.paths.keys().copied()
    }

    /// A name learned elsewhere (the kernel saw the cgroup made).
    pub fn name(&mut self, id: u64, path: String) {
        self.paths.insert(id, path);
    }

    /// Keeps the names of the cgroups `keep` says.
    pub fn retain(&mut self, keep: impl Fn(&u64) -> bool) {
        self.paths.retain(|id, _| keep(id));
    }

    pub fn remember(&mut self, cgroup: &Cgroup) {
        self.paths.insert(cgroup.id, cgroup.relative.clone());
    }

    pub fn path(&self, id: u64) -> Option<&str> {
        self.paths.get(&id).map(String::as_str)
    }
}
