//! Task tracking shared by all backends: fork adds children of target processes (mode PIDS),
//! exit removes them, and exec arms the exec gate of a spawned command's cgroup and remembers
//! the executable path of target commands.
//!
//! Each exists twice: on the raw tracepoint (no perf event: it attaches where
//! `perf_event_paranoid` patches refuse perf events to all but CAP_SYS_ADMIN, as Debian's do, and
//! it is cheaper), reading the task and `linux_binprm` at offsets userspace found in kernel BTF;
//! and on the classic tracepoint, reading its record, where those offsets are unknown.
use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::{raw_tracepoint, tracepoint},
    programs::{RawTracePointContext, TracePointContext},
    EbpfContext,
};
use capdisc_common::{cgroup_state, counter, mode, ExePath, EXE_PATH_LEN};

use crate::{
    filter::current_target,
    maps::{
        bump, constant, BPRM_FILENAME_OFFSET, CGROUPS, EXECS, EXEC_FILENAME_OFFSET, FORK_CHILD_PID_OFFSET, MODE, PIDS, SINGLE_CGROUP,
        SINGLE_STATE, TARGET_CGROUP_LEVEL, TASK_PID_OFFSET,
    },
};

#[tracepoint(category = "sched", name = "sched_process_fork")]
pub fn capdisc_fork(ctx: TracePointContext) -> u32 {
    if let Ok(child) = unsafe { ctx.read_at::<u32>(constant(&FORK_CHILD_PID_OFFSET) as usize) } {
        on_fork(child);
    }
    0
}

/// `TP_PROTO(struct task_struct *parent, struct task_struct *child)`.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn capdisc_fork_raw(ctx: RawTracePointContext) -> i32 {
    let child: u64 = ctx.arg(1);
    let pid = unsafe { bpf_probe_read_kernel((child as *const u8).add(constant(&TASK_PID_OFFSET) as usize) as *const u32) };
    if let Ok(pid) = pid {
        on_fork(pid);
    }
    0
}

#[inline(always)]
fn on_fork(child: u32) {
    if constant(&MODE) != mode::PIDS {
        return;
    }
    let parent = (bpf_get_current_pid_tgid() >> 32) as u32;
    if unsafe { PIDS.get(&parent) }.is_none() {
        return;
    }
    if PIDS.insert(&child, &1, 0).is_err() {
        bump(counter::PIDS_MAP_FULL);
    }
}

#[tracepoint(category = "sched", name = "sched_process_exit")]
pub fn capdisc_exit(_ctx: TracePointContext) -> u32 {
    on_exit();
    0
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn capdisc_exit_raw(_ctx: RawTracePointContext) -> i32 {
    on_exit();
    0
}

#[inline(always)]
fn on_exit() {
    if constant(&MODE) == mode::PIDS {
        let tid = bpf_get_current_pid_tgid() as u32;
        let _ = PIDS.remove(&tid);
    }
}

#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn capdisc_exec(ctx: TracePointContext) -> u32 {
    if on_exec() {
        // The record's `filename` is a __data_loc: offset in the low 16 bits.
        if let Ok(loc) = unsafe { ctx.read_at::<u32>(constant(&EXEC_FILENAME_OFFSET) as usize) } {
            remember_exe(unsafe { (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize) });
        }
    }
    0
}

/// `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn capdisc_exec_raw(ctx: RawTracePointContext) -> i32 {
    if on_exec() {
        let bprm: u64 = ctx.arg(2);
        let filename = unsafe { bpf_probe_read_kernel((bprm as *const u8).add(constant(&BPRM_FILENAME_OFFSET) as usize) as *const u64) };
        if let Ok(filename) = filename {
            remember_exe(filename as *const u8);
        }
    }
    0
}

/// Arms the exec gate of the task's target cgroup; returns whether the task is a target (its
/// executable is then remembered).
#[inline(always)]
fn on_exec() -> bool {
    if constant(&MODE) == mode::CGROUP {
        let level = constant(&TARGET_CGROUP_LEVEL) as i32;
        let ancestor = unsafe { aya_ebpf::helpers::generated::bpf_get_current_ancestor_cgroup_id(level) };
        let single = constant(&SINGLE_CGROUP);
        // Only the first exec opens the gate: a later one (ExecReload's `kill`) keeps the phase.
        if single != 0 && ancestor == single {
            if let Some(state) = SINGLE_STATE.get_ptr_mut(0) {
                if unsafe { *state } == cgroup_state::AWAITING_EXEC {
                    unsafe { *state = cgroup_state::RECORDING };
                }
            }
        }
        if let Some(state) = CGROUPS.get_ptr_mut(&ancestor) {
            if unsafe { *state } == cgroup_state::AWAITING_EXEC {
                unsafe { *state = cgroup_state::RECORDING };
            }
        }
    }
    current_target().is_some()
}

/// Keeps the path `src` (a kernel string) as the executable of the current comm, once.
#[inline(always)]
fn remember_exe(src: *const u8) {
    let Ok(comm) = bpf_get_current_comm() else {
        return;
    };
    if unsafe { EXECS.get(&comm) }.is_some() {
        return;
    }
    let mut exe = ExePath { len: 0, _pad: 0, path: [0; EXE_PATH_LEN] };
    if let Ok(bytes) = unsafe { bpf_probe_read_kernel_str_bytes(src, &mut exe.path) } {
        exe.len = bytes.len() as u32;
        if EXECS.insert(&comm, &exe, 0).is_err() {
            bump(counter::EXECS_MAP_FULL);
        }
    }
}
