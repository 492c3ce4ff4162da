//! What the target did that the sandboxing settings depend on (`ACTIVITY`, `ACTIVITY_PATHS`),
//! seen at `sys_enter` with the sandbox's evidence (recordings and trials; `trace` streams
//! refusals only): every system call it made, by number and a detail read as `ACTIVITY_ARGS`
//! says (a socket's family, an mmap's write and exec bits, the namespaces of an unshare, a
//! personality, a scheduling policy, a chmod's set-id bits, an open's writing flags), counted;
//! and the paths it wrote (opened for writing, created, removed, renamed, changed), or opened
//! under `/dev`, `/proc`, `/sys`, `/home`, `/root` or `/run`, counted. Userspace turns them into
//! the tightest sandboxing the run allows (`sandbox::candidates`). A new kind that finds its map
//! full is counted as lost.
use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::helpers::{bpf_get_current_comm, bpf_probe_read_kernel, bpf_probe_read_user, bpf_probe_read_user_str_bytes};
use capdisc_common::{activity, counter, ActivityArg, ActivityKey, ActivityPathKey, ACTIVITY_PATH_LEN, PATH_ARGS_SYSCALLS};

use crate::{
    maps::{bump, constant, ACTIVITY, ACTIVITY_ARGS, ACTIVITY_PATHS, ACTIVITY_SCRATCH, ACTIVITY_SKIPS_RUNTIME},
    path::path_argument,
    regs::ARG_OFFSETS,
};

/// `BPF_NOEXIST`: insert only a new key.
const NO_EXIST: u64 = 1;
/// `AT_FDCWD`: a path relative to the working directory.
const AT_FDCWD: u64 = (-100i64) as u64;

/// One system call of the target: `regs` its registers, `number` its number. The service
/// manager's child before its exec (named `(name)`: systemd's set-up of the sandbox itself, its
/// mounts, namespaces and filters) is not the service and is not kept; nor, for a container
/// (`ACTIVITY_SKIPS_RUNTIME`), is its runtime's set-up.
#[inline(always)]
pub fn on_enter(cgroup_id: u64, regs: u64, number: i64) {
    if bpf_get_current_comm().is_ok_and(|comm| comm[0] == b'(' || (constant(&ACTIVITY_SKIPS_RUNTIME) != 0 && is_runtime(&comm))) {
        return;
    }
    let spec = if number >= 0 && number < i64::from(PATH_ARGS_SYSCALLS) {
        ACTIVITY_ARGS.get(number as u32).copied().unwrap_or_default()
    } else {
        ActivityArg::default()
    };
    let regs = regs as *const u8;
    let argument = |index: u8| -> u64 {
        let offset = match index {
            0 => ARG_OFFSETS[0],
            1 => ARG_OFFSETS[1],
            2 => ARG_OFFSETS[2],
            _ => ARG_OFFSETS[3],
        };
        unsafe { bpf_probe_read_kernel(regs.wrapping_add(offset) as *const u64) }.unwrap_or(0)
    };
    let detail = match spec.how {
        activity::VALUE => argument(spec.arg) as u32 & spec.mask,
        activity::USER_U32 => {
            let at = argument(spec.arg).wrapping_add(u64::from(spec.offset)) as *const u32;
            unsafe { bpf_probe_read_user(at) }.unwrap_or(0) & spec.mask
        }
        _ => 0,
    };
    count(ActivityKey { cgroup_id, syscall: number as i32, detail });
    if spec.path != activity::PATH_NONE {
        let Some(index) = path_argument(number) else { return };
        let written = spec.path == activity::PATH_WRITES || detail != 0;
        // The directory descriptor of an `*at` call comes just before its path.
        let dirfd = if index > 0 { argument(index as u8 - 1) } else { AT_FDCWD };
        keep_path(cgroup_id, number as i32, argument(index as u8), written, dirfd);
    }
}

/// A container runtime's command name, as `classify` knows them: `crun`, `runc`, `youki`,
/// `conmon`, runc's stages `runc:[N:...]`, and their memfd copies `memfd:crun...`/`memfd:runc...`.
#[inline(always)]
fn is_runtime(comm: &[u8; 16]) -> bool {
    starts(comm, b"crun\0")
        || starts(comm, b"runc\0")
        || starts(comm, b"runc:[")
        || starts(comm, b"youki\0")
        || starts(comm, b"conmon\0")
        || starts(comm, b"memfd:crun")
        || starts(comm, b"memfd:runc")
}

/// Byte by byte (no `memcmp` in a BPF program), unrolled for a constant prefix.
#[inline(always)]
fn starts<const N: usize>(comm: &[u8; 16], prefix: &[u8; N]) -> bool {
    let mut at = 0;
    while at < N && at < 16 {
        if comm[at] != prefix[at] {
            return false;
        }
        at += 1;
    }
    true
}

#[inline(always)]
fn count(key: ActivityKey) {
    if let Some(count) = ACTIVITY.get_ptr_mut(&key) {
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(count, 1) };
        return;
    }
    if ACTIVITY.insert(&key, &1, NO_EXIST).is_ok() {
        return;
    }
    match ACTIVITY.get_ptr_mut(&key) {
        Some(count) => unsafe {
            atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(count, 1);
        },
        None => {
            bump(counter::ACTIVITY_MAP_FULL);
        }
    }
}

/// Keeps the path at user address `user`: always when `written`, else only under the read
/// prefixes.
#[inline(always)]
fn keep_path(cgroup_id: u64, syscall: i32, user: u64, written: bool, dirfd: u64) {
    let Some(key) = ACTIVITY_SCRATCH.get_ptr_mut(0) else { return };
    let key = unsafe { &mut *key };
    // The key is hashed whole: the bytes after the NUL must be the same every time.
    key.path = [0; ACTIVITY_PATH_LEN];
    if unsafe { bpf_probe_read_user_str_bytes(user as *const u8, &mut key.path) }.is_err() {
        return;
    }
    if !written && !activity::READ_PREFIXES.iter().any(|prefix| key.path[..5] == prefix[..]) {
        return;
    }
    key.cgroup_id = cgroup_id;
    key.syscall = syscall;
    key.access = if written { activity::WRITTEN } else { 0 };
    if key.path[0] != b'/' && dirfd != AT_FDCWD {
        key.access |= activity::BESIDE_FD;
    }
    let key: &ActivityPathKey = key;
    if let Some(count) = ACTIVITY_PATHS.get_ptr_mut(key) {
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(count, 1) };
        return;
    }
    if ACTIVITY_PATHS.insert(key, &1, NO_EXIST).is_ok() {
        return;
    }
    match ACTIVITY_PATHS.get_ptr_mut(key) {
        Some(count) => unsafe {
            atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(count, 1);
        },
        None => {
            bump(counter::ACTIVITY_PATHS_MAP_FULL);
        }
    }
}
