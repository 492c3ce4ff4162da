//! The kernel's cgroup mkdir program (`watch`): the watched paths and the tracepoint's layout
//! handed to it, then it is loaded and attached.
use std::path::Path;

use aya::{maps::Array, programs::TracePoint, Ebpf};
use capdisc_common::{MkdirLayout, WatchPath, WATCH_PATH_LEN};

use crate::{error::Error, kernel::tracefs};

/// Hands `paths` (relative to the cgroup mount, each shorter than `WATCH_PATH_LEN`, at most
/// `MAX_WATCH_PATHS`) to `capdisc_cgroup_mkdir`, which arms a new cgroup at one of them (and,
/// `name_all`, names every new cgroup), then loads and attaches it to `cgroup:cgroup_mkdir`.
/// Ok(Err(why)) when the kernel refused the program or its attachment.
pub fn follow_mkdir(ebpf: &mut Ebpf, tracefs: &Path, paths: &[&str], level: u32, name_all: bool) -> Result<Result<(), String>, Error> {
    let format = tracefs::Format::read(tracefs, "cgroup", "cgroup_mkdir")?;
    let map = ebpf.map_mut("WATCH_PATHS").ok_or_else(|| Error::Runtime("map WATCH_PATHS missing from the eBPF object".into()))?;
    let mut slots: Array<_, WatchPath> = Array::try_from(map).map_err(|err| Error::io("cannot open map WATCH_PATHS", err))?;
    let mut count = 0u32;
    for path in paths.iter().filter(|path| path.len() < WATCH_PATH_LEN) {
        let mut slot = WatchPath { path: [0; WATCH_PATH_LEN] };
        slot.path[..path.len()].copy_from_slice(path.as_bytes());
        slots.set(count, slot, 0).map_err(|err| Error::io("cannot fill map WATCH_PATHS", err))?;
        count += 1;
    }
    let layout = MkdirLayout {
        root_offset: format.offset("root")?,
        level_offset: format.offset("level")?,
        id_offset: format.offset("id")?,
        path_offset: format.offset("path")?,
        level,
        count,
        name_all: u32::from(name_all),
        _pad: 0,
    };
    let map = ebpf.map_mut("MKDIR_LAYOUT").ok_or_else(|| Error::Runtime("map MKDIR_LAYOUT missing from the eBPF object".into()))?;
    let mut slot: Array<_, MkdirLayout> = Array::try_from(map).map_err(|err| Error::io("cannot open map MKDIR_LAYOUT", err))?;
    slot.set(0, layout, 0).map_err(|err| Error::io("cannot set map MKDIR_LAYOUT", err))?;
    let program: &mut TracePoint = ebpf
        .program_mut("capdisc_cgroup_mkdir")
        .ok_or_else(|| Error::Runtime("program capdisc_cgroup_mkdir missing from the eBPF object".into()))?
        .try_into()
        .map_err(|err| Error::io("capdisc_cgroup_mkdir is not a tracepoint program", err))?;
    Ok(program.load().map_err(|err| format!("the kernel refused capdisc_cgroup_mkdir ({err})")).and_then(|()| {
        program.attach("cgroup", "cgroup_mkdir").map(|_| ()).map_err(|err| format!("cannot attach to cgroup:cgroup_mkdir ({err})"))
    }))
}
