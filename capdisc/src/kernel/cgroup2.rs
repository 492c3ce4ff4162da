//! Where the cgroup v2 hierarchy is mounted: every target, trial and guardian works under it.
use std::{fs, path::PathBuf};

use crate::error::Error;

/// Where cgroup v2 is mounted (`/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified` on
/// hybrid ones), from /proc/self/mountinfo.
pub fn cgroup2_mount() -> Result<PathBuf, Error> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|err| Error::input("cannot read /proc/self/mountinfo", err, ""))?;
    mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            if right.split_whitespace().next()? != "cgroup2" {
                return None;
            }
            left.split_whitespace().nth(4).map(PathBuf::from)
        })
        .ok_or_else(|| {
            Error::Kernel(
                "cgroup v2 is not mounted; mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified` or boot with a unified hierarchy"
                    .into(),
            )
        })
}
