//! Task tracking shared by all backends: fork adds children of target processes (mode PIDS),
//! exit removes them, and exec arms the exec gate of a spawned command's cgroup and remembers
//! the executable path of target commands.
use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel_str_bytes},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext,
};
use capdisc_common::{cgroup_state, counter, mode, ExePath, EXE_PATH_LEN};

use crate::{
    filter::current_target,
    maps::{bump, constant, CGROUPS, EXECS, EXEC_FILENAME_OFFSET, FORK_CHILD_PID_OFFSET, MODE, PIDS, TARGET_CGROUP_LEVEL},
};

#[tracepoint(category = "sched", name = "sched_process_fork")]
pub fn capdisc_fork(ctx: TracePointContext) -> u32 {
    if constant(&MODE) != mode::PIDS {
        return 0;
    }
    let parent = (bpf_get_current_pid_tgid() >> 32) as u32;
    if unsafe { PIDS.get(&parent) }.is_none() {
        return 0;
    }
    let Ok(child) = (unsafe { ctx.read_at::<u32>(constant(&FORK_CHILD_PID_OFFSET) as usize) }) else {
        return 0;
    };
    if PIDS.insert(&child, &1, 0).is_err() {
        bump(counter::PIDS_MAP_FULL);
    }
    0
}

#[tracepoint(category = "sched", name = "sched_process_exit")]
pub fn capdisc_exit(_ctx: TracePointContext) -> u32 {
    if constant(&MODE) == mode::PIDS {
        let tid = bpf_get_current_pid_tgid() as u32;
        let _ = PIDS.remove(&tid);
    }
    0
}

#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn capdisc_exec(ctx: TracePointContext) -> u32 {
    if constant(&MODE) == mode::CGROUP {
        let level = constant(&TARGET_CGROUP_LEVEL) as i32;
        let ancestor = unsafe { aya_ebpf::helpers::generated::bpf_get_current_ancestor_cgroup_id(level) };
        if let Some(state) = CGROUPS.get_ptr_mut(&ancestor) {
            unsafe { *state = cgroup_state::RECORDING };
        }
    }
    if current_target().is_some() {
        remember_exe(&ctx);
    }
    0
}

fn remember_exe(ctx: &TracePointContext) {
    let Ok(comm) = bpf_get_current_comm() else {
        return;
    };
    if unsafe { EXECS.get(&comm) }.is_some() {
        return;
    }
    let Ok(loc) = (unsafe { ctx.read_at::<u32>(constant(&EXEC_FILENAME_OFFSET) as usize) }) else {
        return;
    };
    let mut exe = ExePath { len: 0, _pad: 0, path: [0; EXE_PATH_LEN] };
    let src = unsafe { (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize) };
    if let Ok(bytes) = unsafe { bpf_probe_read_kernel_str_bytes(src, &mut exe.path) } {
        exe.len = bytes.len() as u32;
        if EXECS.insert(&comm, &exe, 0).is_err() {
            bump(counter::EXECS_MAP_FULL);
        }
    }
}
