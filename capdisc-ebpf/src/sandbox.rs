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
//! - **An exec that gained nothing.** A setuid or setgid file exec'd whose new credentials are not
//!   its owner's or group's (`no_new_privs`, a nosuid mount): `sched_process_exec`, reading the
//!   file's mode and owner and the new credentials at offsets from kernel BTF.
//!
//! Each refusal keeps the call's arguments 0..4 (a socket's family, an mmap's protection) and the
//! path it named. `trace` streams them (`Refusal`); trials and recordings count them per kind
//! (`REFUSALS`, the first one's arguments and path kept). Both programs run on every system call
//! of the host while attached; for a thread outside the target that is the target test alone.
use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes,
        bpf_probe_read_user_str_bytes, generated::bpf_ktime_get_boot_ns,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use capdisc_common::{counter, refusal, Refusal, RefusalKey, RefusalStats, NO_SYSCALL};

use crate::{
    filter::current_target_quietly,
    maps::{
        bump, constant, BPRM_FILENAME_OFFSET, BPRM_FILE_OFFSET, CRED_EGID_OFFSET, CRED_EUID_OFFSET, FILE_INODE_OFFSET, INODE_GID_OFFSET,
        INODE_MODE_OFFSET, INODE_UID_OFFSET, REFUSALS, REFUSAL_SCRATCH, SANDBOX, STREAM, SYSCALL_STATE, TASK_ATOMIC_FLAGS_OFFSET,
        TASK_CRED_OFFSET,
    },
    path::path_argument,
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

/// `regs` and `number`: the `sys_enter` tracepoint's arguments.
#[inline(always)]
pub fn on_enter(regs: u64, number: i64) {
    let Some((cgroup_id, _)) = current_target_quietly() else { return };
    if constant(&STREAM) == 0 {
        crate::activity::on_enter(cgroup_id, regs, number);
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
    // Most calls entered and succeeded: judged on `ret` alone, before any read.
    let skipped = state == Some(BETWEEN);
    if !skipped && ret != -EROFS && ret != -EACCES && ret != -EPERM {
        return;
    }
    let regs = regs as *const u8;
    let Ok(number) = (unsafe { bpf_probe_read_kernel(regs.wrapping_add(SYSCALL_NR_OFFSET) as *const i64) }) else { return };
    let path_argument = path_argument(number);
    let how = if skipped && (ret < 0 || ret == number) {
        refusal::SKIPPED
    } else if !skipped && (ret == -EROFS || path_argument.is_some()) {
        refusal::FAILED
    } else {
        return;
    };
    let key = RefusalKey { cgroup_id, ret, syscall: number as i32, how, phase, _pad: 0 };
    let mut args = [0u64; 4];
    for (slot, offset) in args.iter_mut().zip(ARG_OFFSETS) {
        *slot = unsafe { bpf_probe_read_kernel(regs.wrapping_add(offset) as *const u64) }.unwrap_or(0);
    }
    let path = match path_argument {
        Some(0) => Path::User(args[0]),
        Some(1) => Path::User(args[1]),
        Some(2) => Path::User(args[2]),
        Some(_) => Path::User(args[3]),
        None => Path::None,
    };
    keep(key, &args, path);
}

const S_ISUID: u64 = 0o4000;
const S_ISGID: u64 = 0o2000;
const S_IXGRP: u64 = 0o0010;

/// `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`: a setuid or
/// setgid file exec'd by the target whose new credentials are not its owner's or group's.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn capdisc_exec_gain(ctx: RawTracePointContext) -> i32 {
    if constant(&SANDBOX) == 0 {
        return 0;
    }
    let Some((cgroup_id, phase)) = current_target_quietly() else { return 0 };
    let task: u64 = ctx.arg(0);
    let bprm: u64 = ctx.arg(2);
    let _ = exec_gain(task, bprm, cgroup_id, phase);
    0
}

#[inline(always)]
fn exec_gain(task: u64, bprm: u64, cgroup_id: u64, phase: u32) -> Option<()> {
    let at = |base: u64, offset: &'static u32| (base as *const u8).wrapping_add(constant(offset) as usize);
    let file = unsafe { bpf_probe_read_kernel(at(bprm, &BPRM_FILE_OFFSET) as *const u64) }.ok()?;
    let inode = unsafe { bpf_probe_read_kernel(at(file, &FILE_INODE_OFFSET) as *const u64) }.ok()?;
    let mode = u64::from(unsafe { bpf_probe_read_kernel(at(inode, &INODE_MODE_OFFSET) as *const u16) }.ok()?);
    let setuid = mode & S_ISUID != 0;
    let setgid = mode & (S_ISGID | S_IXGRP) == (S_ISGID | S_IXGRP);
    if !setuid && !setgid {
        return None;
    }
    let owner = unsafe { bpf_probe_read_kernel(at(inode, &INODE_UID_OFFSET) as *const u32) }.ok()?;
    let group = unsafe { bpf_probe_read_kernel(at(inode, &INODE_GID_OFFSET) as *const u32) }.ok()?;
    let cred = unsafe { bpf_probe_read_kernel(at(task, &TASK_CRED_OFFSET) as *const u64) }.ok()?;
    let euid = unsafe { bpf_probe_read_kernel(at(cred, &CRED_EUID_OFFSET) as *const u32) }.ok()?;
    let egid = unsafe { bpf_probe_read_kernel(at(cred, &CRED_EGID_OFFSET) as *const u32) }.ok()?;
    if (!setuid || euid == owner) && (!setgid || egid == group) {
        return None;
    }
    let flags = unsafe { bpf_probe_read_kernel(at(task, &TASK_ATOMIC_FLAGS_OFFSET) as *const u64) }.unwrap_or(0);
    let filename = unsafe { bpf_probe_read_kernel(at(bprm, &BPRM_FILENAME_OFFSET) as *const u64) }.unwrap_or(0);
    let key = RefusalKey { cgroup_id, ret: 0, syscall: NO_SYSCALL, how: refusal::NO_GAIN, phase, _pad: 0 };
    let args = [mode, u64::from(owner) | u64::from(group) << 32, u64::from(euid) | u64::from(egid) << 32, flags & 1];
    keep(key, &args, Path::Kernel(filename));
    Some(())
}

/// Where a refusal's path is read from: the call's argument in user memory, or a kernel string.
#[derive(Clone, Copy)]
enum Path {
    None,
    User(u64),
    Kernel(u64),
}

#[inline(always)]
fn keep(key: RefusalKey, args: &[u64; 4], path: Path) {
    if constant(&STREAM) != 0 {
        stream(key, args, path);
    } else {
        count(key, args, path);
    }
}

#[inline(always)]
fn stream(key: RefusalKey, args: &[u64; 4], path: Path) {
    let Some(mut entry) = crate::stream::reserve::<Refusal>() else { return };
    let event = entry.as_mut_ptr();
    let pid_tgid = bpf_get_current_pid_tgid();
    unsafe {
        (*event).ts_ns = bpf_ktime_get_boot_ns();
        (*event).key = key;
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = pid_tgid as u32;
        sample(&mut (*event).stats, args, path);
    }
    entry.submit(0);
}

#[inline(always)]
fn count(key: RefusalKey, args: &[u64; 4], path: Path) {
    if let Some(stats) = REFUSALS.get_ptr_mut(&key) {
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).count, 1) };
        return;
    }
    let Some(scratch) = REFUSAL_SCRATCH.get_ptr_mut(0) else { return };
    unsafe { sample(&mut *scratch, args, path) };
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
fn sample(stats: &mut RefusalStats, args: &[u64; 4], path: Path) {
    stats.count = 1;
    stats.args = *args;
    stats.comm = bpf_get_current_comm().unwrap_or([0; capdisc_common::COMM_LEN]);
    stats._pad = 0;
    stats.path_len = 0;
    let read = match path {
        Path::None => return,
        Path::User(address) => unsafe { bpf_probe_read_user_str_bytes(address as *const u8, &mut stats.path) },
        Path::Kernel(address) => unsafe { bpf_probe_read_kernel_str_bytes(address as *const u8, &mut stats.path) },
    };
    if let Ok(bytes) = read {
        stats.path_len = bytes.len() as u32 + 1;
    }
}
