//! What userspace writes into the kernel's target maps, in one place: the target cgroups and
//! their state (`CGROUPS`, and the single-cgroup slot `SINGLE_STATE`), a process tree (`PIDS`),
//! and the phase marker of a trial (`phase`).
use aya::{
    maps::{Array, HashMap},
    Ebpf,
};

use crate::error::Error;

/// Adds a target cgroup in its state, to the map and to the single-cgroup slot (the kernel
/// reads the slot when it was loaded with this cgroup as its only one, the map otherwise).
pub fn insert_cgroup(ebpf: &mut Ebpf, id: u64, state: u8) -> Result<(), Error> {
    let map = ebpf.map_mut("CGROUPS").ok_or_else(|| missing("CGROUPS"))?;
    let mut cgroups: HashMap<_, u64, u8> = HashMap::try_from(map).map_err(|err| Error::io("cannot open map CGROUPS", err))?;
    cgroups.insert(id, state, 0).map_err(|err| Error::io("cannot add to map CGROUPS", err))?;
    let map = ebpf.map_mut("SINGLE_STATE").ok_or_else(|| missing("SINGLE_STATE"))?;
    let mut single: Array<_, u8> = Array::try_from(map).map_err(|err| Error::io("cannot open map SINGLE_STATE", err))?;
    single.set(0, state, 0).map_err(|err| Error::io("cannot set map SINGLE_STATE", err))
}

/// Takes a target cgroup out of the map (a gone one, whose id will not come back).
pub fn remove_cgroup(ebpf: &mut Ebpf, id: u64) -> Result<(), Error> {
    let map = ebpf.map_mut("CGROUPS").ok_or_else(|| missing("CGROUPS"))?;
    let mut cgroups: HashMap<_, u64, u8> = HashMap::try_from(map).map_err(|err| Error::io("cannot open map CGROUPS", err))?;
    let _ = cgroups.remove(&id);
    Ok(())
}

pub(super) fn missing(name: &str) -> Error {
    Error::Runtime(format!("map {name} missing from the eBPF object"))
}

/// Adds the processes of a tree (`--pid`) to the target set.
pub fn insert_pids(ebpf: &mut Ebpf, pids: &[u32]) -> Result<(), Error> {
    let map = ebpf.map_mut("PIDS").ok_or_else(|| missing("PIDS"))?;
    let mut set: HashMap<_, u32, u8> = HashMap::try_from(map).map_err(|err| Error::io("cannot open map PIDS", err))?;
    for member in pids {
        set.insert(*member, 1, 0).map_err(|err| Error::io("cannot add to map PIDS", err))?;
    }
    Ok(())
}

/// The processes in the target set now (`--pid`: a tree whose first process may be gone).
pub fn target_pids(ebpf: &Ebpf) -> Vec<u32> {
    let Some(pids) = ebpf.map("PIDS").and_then(|map| HashMap::<_, u32, u8>::try_from(map).ok()) else { return Vec::new() };
    pids.keys().flatten().collect()
}
