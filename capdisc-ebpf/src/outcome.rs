//! What a system call returned after one of its capability checks was denied, attached only when
//! asked (`SYSCALL_OUTCOMES`: `trace`, and the trials of `verify`/`minimize`): a denied check
//! leaves its key under the thread's id in `DENIED_IN_FLIGHT`, and the thread's next exit from
//! that system call (`raw_syscalls:sys_exit`) takes it back and tells the outcome: counted on
//! the key (`syscall_ok`, `syscall_failed`, `syscall_errno`) or, for `trace`, streamed as a
//! `SyscallOutcome`. A denial does not always fail its call: `capset` checks CAP_SETPCAP only to
//! learn whether the inheritable set is capped, and succeeds either way. The program runs on
//! every system call exit of the host while attached (a map lookup that misses for every thread
//! without a denial in flight), which is why it is not attached by default.
use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_probe_read_kernel};
use capdisc_common::{CheckKey, SyscallOutcome};

use crate::{
    maps::{constant, CHECKS, DENIED_IN_FLIGHT, STREAM, SYSCALL_OUTCOMES},
    regs::SYSCALL_NR_OFFSET,
};

/// Remembers a denied check of the current thread until its system call returns.
#[inline(always)]
pub fn denied_in_flight(key: &CheckKey) {
    if constant(&SYSCALL_OUTCOMES) == 0 || key.syscall < 0 {
        return;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    // An LRU map: a thread that never returns (killed in its call) is forgotten in time.
    let _ = DENIED_IN_FLIGHT.insert(&tid, key, 0);
}

/// A system call exits (`syscall_hooks`): `regs` and `ret` are the tracepoint's arguments.
#[inline(always)]
pub fn on_exit(regs: u64, ret: i64) {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(key) = (unsafe { DENIED_IN_FLIGHT.get(&tid) }) else { return };
    let key = *key;
    let _ = DENIED_IN_FLIGHT.remove(&tid);
    // The call that exits is the one the check was made in (a check outside any call, or an
    // exit that is not its call's, tells nothing).
    let number = unsafe { bpf_probe_read_kernel((regs as *const u8).wrapping_add(SYSCALL_NR_OFFSET) as *const i64) };
    if number.map(|number| number as i32) != Ok(key.syscall) {
        return;
    }
    if constant(&STREAM) != 0 {
        if let Some(mut entry) = crate::stream::reserve::<SyscallOutcome>() {
            unsafe { entry.as_mut_ptr().write(SyscallOutcome { tid, syscall: key.syscall, ret }) };
            entry.submit(0);
        }
        return;
    }
    if let Some(stats) = CHECKS.get_ptr_mut(&key) {
        unsafe {
            if ret >= 0 {
                atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).syscall_ok, 1);
            } else {
                atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*stats).syscall_failed, 1);
                (*stats).syscall_errno = (-ret) as u64;
            }
        }
    }
}
