//! Sandbox evidence (`SANDBOX`, attached only when asked): the system calls of the target that
//! its sandbox refused, seen on the two system-call tracepoints, which exist on every kernel
//! capdisc supports (no kprobe or BPF tracing program needed).
//!
//! - **Refused at entry (seccomp).** The kernel runs a thread's seccomp filters before the
//!   `sys_enter` tracepoint and, when a filter refuses the call, skips the call's body but still
//!   passes `sys_exit`. So an exit whose entry was not seen is a call some filter refused (or a
//!   tracer skipped). `SYSCALL_STATE` remembers per thread whether its current call entered; the
//!   exit reads it back. A thread first seen at an exit (it was in a call when capdisc attached)
//!   is not judged; a new thread's first exit is its clone returning 0, which is not judged
//!   either (a refused call returns an errno, or its own number when the filter trapped or
//!   killed: the kernel rolls the registers back before SIGSYS).
//! - **Refused by the file system the target sees.** A call that ran and returned EROFS (a
//!   read-only mount), or EACCES/EPERM from a call naming a path (an inaccessible path): which
//!   setting made it so is userspace's to say, from the unit's settings and the path.
//!
//! Each refusal keeps the call's arguments 0..4 (a socket's family, an mmap's protection) and the
//! path it named. `trace` streams them (`Refusal`); trials and recordings count them per kind
//! (`REFUSALS`, the first one's arguments and path kept). Both programs run on every system call
//! of the host while attached; for a thread outside the target that is the target test alone.
use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel, bpf_probe_read_user_str_bytes, generated::bpf_ktime_get_boot_ns,
};
use capdisc_common::{counter, refusal, Refusal, RefusalKey, RefusalStats, PATH_ARGS_SYSCALLS};

use crate::{
    filter::current_target_quietly,
    maps::{bump, constant, EVENTS, PATH_ARGS, REFUSALS, REFUSAL_SCRATCH, STREAM, SYSCALL_STATE},
    regs::{ARG_OFFSETS, SYSCALL_NR_OFFSET},
};

/// `SYSCALL_STATE`: the thread's current system call passed `sys_enter`.
const ENTERED: u8 = 1;
/// `SYSCALL_STATE`: the thread is between system calls.
const BETWEEN: u8 = 0;

const EPERM: i64 = 1;
const EACCES: i64 = 13;
const EROFS: i64 = 30;
/// `BPF_NOEXIST`: insert only a new key.
const NO_EXIST: u64 = 1;

#[inline(always)]
pub fn on_enter() {
    if current_target_quietly().is_none() {
        return;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    // Written in place (a map update per system call costs several times more), inserted once.
    match SYSCALL_STATE.get_ptr_mut(&tid) {
        Some(state) => unsafe { *state = ENTERED },
        None => {
            let _ = SYSCALL_STATE.insert(&tid, &ENTERED, 0);
        }
    }
}

/// `regs` and `ret`: the `sys_exit` tracepoint's arguments.
#[inline(always)]
pub fn on_exit(regs: u64, ret: i64) {
    let Some((cgroup_id, phase)) = current_target_quietly() else { return };
    let tid = bpf_get_current_pid_tgid() as u32;
    let state = match SYSCALL_STATE.get_ptr_mut(&tid) {
        Some(slot) => unsafe {
            let state = *slot;
            *slot = BETWEEN;
            Some(state)
        },
        None => {
            let _ = SYSCALL_STATE.insert(&tid, &BETWEEN, 0);
            None
        }
    };
    let regs = regs as *const u8;
    let Ok(number) = (unsafe { bpf_probe_read_kernel(regs.wrapping_add(SYSCALL_NR_OFFSET) as *const i64) }) else { return };
    let path_argument = path_argument(number);
    let how = if state == Some(BETWEEN) && (ret < 0 || ret == number) {
        refusal::SKIPPED
    } else if state != Some(BETWEEN) && (ret == -EROFS || (path_argument.is_some() && (ret == -EACCES || ret == -EPERM))) {
        refusal::FAILED
    } else {
        return;
    };
    let key = RefusalKey { cgroup_id, ret, syscall: number as i32, how, phase, _pad: 0 };
    let mut args = [0u64; 4];
    for (slot, offset) in args.iter_mut().zip(ARG_OFFSETS) {
        *slot = unsafe { bpf_probe_read_kernel(regs.wrapping_add(offset) as *const u64) }.unwrap_or(0);
    }
    if constant(&STREAM) != 0 {
        stream(key, &args, path_argument);
    } else {
        count(key, &args, path_argument);
    }
}

/// Which argument of system call `number` is a path (`PATH_ARGS`), if any.
#[inline(always)]
fn path_argument(number: i64) -> Option<usize> {
    if number < 0 || number >= PATH_ARGS_SYSCALLS as i64 {
        return None;
    }
    match PATH_ARGS.get(number as u32) {
        Some(&argument) if argument > 0 && (argument as usize) <= ARG_OFFSETS.len() => Some(argument as usize - 1),
        _ => None,
    }
}

#[inline(always)]
fn stream(key: RefusalKey, args: &[u64; 4], path_argument: Option<usize>) {
    let Some(mut entry) = EVENTS.reserve::<Refusal>(0) else {
        bump(counter::EVENTS_LOST);
        return;
    };
    let event = entry.as_mut_ptr();
    let pid_tgid = bpf_get_current_pid_tgid();
    unsafe {
        (*event).ts_ns = bpf_ktime_get_boot_ns();
        (*event).key = key;
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = pid_tgid as u32;
        sample(&mut (*event).stats, args, path_argument);
    }
    entry.submit(0);
}

#[inline(always)]
fn count(key: RefusalKey, args: &[u64; 4], path_argument: Option<usize>) {
    if let Some(stats) = REFUSALS.get_ptr_mut(&key) {
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, 1) };
        return;
    }
    let Some(scratch) = REFUSAL_SCRATCH.get_ptr_mut(0) else { return };
    unsafe { sample(&mut *scratch, args, path_argument) };
    if REFUSALS.insert(&key, unsafe { &*scratch }, NO_EXIST).is_ok() {
        return;
    }
    // Another CPU inserted the same key meanwhile, or the map is full.
    match REFUSALS.get_ptr_mut(&key) {
        Some(stats) => unsafe {
            atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, 1);
        },
        None => {
            bump(counter::REFUSALS_MAP_FULL);
        }
    }
}

/// One refusal's arguments, command and path, counted once.
#[inline(always)]
fn sample(stats: &mut RefusalStats, args: &[u64; 4], path_argument: Option<usize>) {
    stats.count = 1;
    stats.args = *args;
    stats.comm = bpf_get_current_comm().unwrap_or([0; capdisc_common::COMM_LEN]);
    stats._pad = 0;
    stats.path_len = 0;
    let user = match path_argument {
        Some(0) => args[0],
        Some(1) => args[1],
        Some(2) => args[2],
        Some(_) => args[3],
        None => return,
    } as *const u8;
    if let Ok(bytes) = unsafe { bpf_probe_read_user_str_bytes(user, &mut stats.path) } {
        stats.path_len = bytes.len() as u32 + 1;
    }
}
