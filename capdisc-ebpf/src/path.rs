//! The path a system call named, read from its arguments in user memory: shared by the
//! recording's call-site samples (`record`) and `capdisc trace`'s events (`stream`). Which
//! argument is the path comes from userspace's table (`PATH_ARGS`).
use aya_ebpf::helpers::{bpf_probe_read_user_str_bytes, generated::bpf_task_pt_regs};
use capdisc_common::{PATH_ARGS_SYSCALLS, PATH_SAMPLE_LEN};

use crate::{maps::PATH_ARGS, regs::ARG_OFFSETS};

/// The path argument of the current system call, read from user memory into `buffer`: its
/// length with the NUL, or 0 when the system call names no path or it cannot be read.
#[inline(always)]
pub fn read_syscall_path(syscall: i32, task: *const u8, buffer: &mut [u8; PATH_SAMPLE_LEN]) -> u32 {
    if task.is_null() {
        return 0;
    }
    let Some(argument) = path_argument(i64::from(syscall)) else { return 0 };
    unsafe {
        let regs = bpf_task_pt_regs(task as *mut _) as *const u8;
        if regs.is_null() {
            return 0;
        }
        // The verifier allows only fixed offsets into pt_regs: read all four argument registers
        // (volatile, so they stay four constant loads), then choose among the values.
        let read = |offset: usize| core::ptr::read_volatile(regs.add(offset) as *const u64);
        let values = [read(ARG_OFFSETS[0]), read(ARG_OFFSETS[1]), read(ARG_OFFSETS[2]), read(ARG_OFFSETS[3])];
        let user = match argument {
            0 => values[0],
            1 => values[1],
            2 => values[2],
            _ => values[3],
        } as *const u8;
        match bpf_probe_read_user_str_bytes(user, buffer) {
            Ok(bytes) => bytes.len() as u32 + 1,
            Err(_) => 0,
        }
    }
}

/// Which argument (0..4) of system call `number` is a path (`PATH_ARGS`), if any.
#[inline(always)]
pub fn path_argument(number: i64) -> Option<usize> {
    if number < 0 || number >= i64::from(PATH_ARGS_SYSCALLS) {
        return None;
    }
    match PATH_ARGS.get(number as u32) {
        Some(&argument) if argument > 0 && (argument as usize) <= ARG_OFFSETS.len() => Some(argument as usize - 1),
        _ => None,
    }
}
