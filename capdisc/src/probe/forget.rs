//! What `watch` does to the kernel's maps beyond draining them: the cgroup names the mkdir
//! program kept, taken; one key read again; keys (and their sampled paths) deleted once folded
//! into userspace or found to belong to no target.
use std::collections::HashSet;

use aya::{maps::HashMap as BpfHashMap, Ebpf};
use capdisc_common::{CheckKey, CheckStats, PathKey, PathSample};

use crate::error::Error;

/// The cgroup names the kernel's mkdir program kept (`CGROUP_NAMES`), emptied as they are read.
pub fn take_cgroup_names(ebpf: &mut Ebpf) -> Result<Vec<(u64, String)>, Error> {
    let map = ebpf.map_mut("CGROUP_NAMES").ok_or_else(|| Error::Runtime("map CGROUP_NAMES missing from the eBPF object".into()))?;
    let mut names: BpfHashMap<_, u64, PathSample> =
        BpfHashMap::try_from(map).map_err(|err| Error::io("cannot open map CGROUP_NAMES", err))?;
    let entries: Vec<(u64, PathSample)> = names.iter().flatten().collect();
    let mut found = Vec::new();
    for (id, sample) in entries {
        let _ = names.remove(&id);
        let len = (sample.len as usize).saturating_sub(1).min(sample.path.len());
        if len > 0 {
            found.push((id, String::from_utf8_lossy(&sample.path[..len]).into_owned()));
        }
    }
    Ok(found)
}

/// One key's entry as the kernel holds it now.
pub fn reread(ebpf: &Ebpf, key: &CheckKey) -> Result<Option<CheckStats>, Error> {
    let map = ebpf.map("CHECKS").ok_or_else(|| Error::Runtime("map CHECKS missing from the eBPF object".into()))?;
    let checks: BpfHashMap<_, CheckKey, CheckStats> = BpfHashMap::try_from(map).map_err(|err| Error::io("cannot open map CHECKS", err))?;
    Ok(checks.get(key, 0).ok())
}

/// Deletes keys (and the paths sampled with them) from the kernel maps: they were folded, or
/// belong to no target.
pub fn forget_keys(ebpf: &mut Ebpf, keys: &[CheckKey]) -> Result<(), Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let keys: HashSet<CheckKey> = keys.iter().copied().collect();
    let map = ebpf.map_mut("CHECKS").ok_or_else(|| Error::Runtime("map CHECKS missing from the eBPF object".into()))?;
    let mut checks: BpfHashMap<_, CheckKey, CheckStats> =
        BpfHashMap::try_from(map).map_err(|err| Error::io("cannot open map CHECKS", err))?;
    for key in &keys {
        let _ = checks.remove(key);
    }
    let map = ebpf.map_mut("PATHS").ok_or_else(|| Error::Runtime("map PATHS missing from the eBPF object".into()))?;
    let mut paths: BpfHashMap<_, PathKey, PathSample> = BpfHashMap::try_from(map).map_err(|err| Error::io("cannot open map PATHS", err))?;
    let stale: Vec<PathKey> = paths.keys().flatten().filter(|path_key| keys.contains(&path_key.check)).collect();
    for path_key in stale {
        let _ = paths.remove(&path_key);
    }
    Ok(())
}
