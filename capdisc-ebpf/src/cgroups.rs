//! `watch --cgroup` through re-creation: a watched cgroup that is removed and made again (a
//! restarted container, a re-created slice) gets a new id, which the cgroup filter does not know.
//! On `cgroup:cgroup_mkdir` of the cgroup v2 hierarchy at the watched depth, a path equal to a
//! watched one is armed in `CGROUPS` at once: before any task can join the new cgroup, so its
//! first checks are counted. Userspace sets the record layout and the paths (`MKDIR_LAYOUT`,
//! `WATCH_PATHS`); it also re-arms on its scans, for paths this program cannot follow. When
//! `watch` attributes in userspace (`--all`, `--unit`), every new cgroup's path is kept in
//! `CGROUP_NAMES`, so one that comes and goes between two scans is still named.
use aya_ebpf::{helpers::bpf_probe_read_kernel_str_bytes, macros::tracepoint, programs::TracePointContext, EbpfContext};
use capdisc_common::{cgroup_state, MAX_WATCH_PATHS, WATCH_PATH_LEN};

use crate::maps::{CGROUPS, CGROUP_NAMES, MKDIR_LAYOUT, PATH_SCRATCH, WATCH_PATHS};

/// Words of a watched path, compared 8 bytes at a time.
const WORDS: usize = WATCH_PATH_LEN / 8;

#[tracepoint(category = "cgroup", name = "cgroup_mkdir")]
pub fn capdisc_cgroup_mkdir(ctx: TracePointContext) -> u32 {
    let Some(layout) = MKDIR_LAYOUT.get(0).copied() else { return 0 };
    if layout.count == 0 && layout.name_all == 0 {
        return 0;
    }
    let read_u32 = |offset: u32| unsafe { ctx.read_at::<u32>(offset as usize) }.ok();
    // The v2 hierarchy's id is 0; a v1 hierarchy's mkdir is not ours.
    if read_u32(layout.root_offset) != Some(0) {
        return 0;
    }
    let (Ok(id), Some(loc)) = (unsafe { ctx.read_at::<u64>(layout.id_offset as usize) }, read_u32(layout.path_offset)) else {
        return 0;
    };
    // The record's `path` is a __data_loc: its offset in the low 16 bits.
    let src = unsafe { (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize) };
    if layout.name_all != 0 {
        if let Some(sample) = PATH_SCRATCH.get_ptr_mut(0) {
            let sample = unsafe { &mut *sample };
            if let Ok(bytes) = unsafe { bpf_probe_read_kernel_str_bytes(src, &mut sample.path) } {
                sample.len = bytes.len() as u32 + 1;
                let _ = CGROUP_NAMES.insert(&id, sample, 0);
            }
        }
    }
    if layout.count == 0 || read_u32(layout.level_offset) != Some(layout.level) {
        return 0;
    }
    let mut path = [0u64; WORDS];
    let bytes = unsafe { core::slice::from_raw_parts_mut(path.as_mut_ptr() as *mut u8, WATCH_PATH_LEN) };
    if unsafe { bpf_probe_read_kernel_str_bytes(src, bytes) }.is_err() {
        return 0;
    }
    for slot in 0..MAX_WATCH_PATHS {
        if slot >= layout.count {
            break;
        }
        let Some(watched) = WATCH_PATHS.get_ptr(slot) else { break };
        let watched = unsafe { &(*watched).path } as *const [u8; WATCH_PATH_LEN] as *const u64;
        let mut same = true;
        for word in 0..WORDS {
            if unsafe { core::ptr::read_unaligned(watched.add(word)) } != path[word] {
                same = false;
                break;
            }
        }
        if same {
            let _ = CGROUPS.insert(&id, &cgroup_state::RECORDING, 0);
            break;
        }
    }
    0
}
