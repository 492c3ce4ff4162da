//! The two system-call tracepoints, `raw_syscalls:sys_enter` and `sys_exit` (raw tracepoints: no
//! perf record), attached only when asked, each feeding what needs it: what a system call
//! returned after a denied check (`outcome`, `SYSCALL_OUTCOMES`) and the sandbox's refusals
//! (`sandbox`, `SANDBOX`; the only user of `sys_enter`, which also keeps the target's `activity`).
use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};

use crate::{
    maps::{constant, SANDBOX, SYSCALL_OUTCOMES},
    outcome, sandbox,
};

/// `TP_PROTO(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn capdisc_sys_enter(ctx: RawTracePointContext) -> i32 {
    if constant(&SANDBOX) != 0 {
        sandbox::on_enter(ctx.arg(0), ctx.arg(1));
    }
    0
}

/// `TP_PROTO(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn capdisc_sys_exit(ctx: RawTracePointContext) -> i32 {
    let regs: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    if constant(&SYSCALL_OUTCOMES) != 0 {
        outcome::on_exit(regs, ret);
    }
    if constant(&SANDBOX) != 0 {
        sandbox::on_exit(regs, ret);
    }
    0
}
