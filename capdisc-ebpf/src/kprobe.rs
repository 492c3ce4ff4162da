//! Backend `kprobe`: kprobe + kretprobe on `cap_capable(cred, target_ns, cap, opts)`. The entry
//! remembers the arguments per thread (only for target tasks); the return completes the check.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{kprobe, kretprobe},
    programs::{ProbeContext, RetProbeContext},
};
use capdisc_common::{counter, PendingCheck};

use crate::{
    filter::current_target,
    maps::{bump, PENDING},
    record::{on_check, Check},
};

#[kprobe(function = "cap_capable")]
pub fn capdisc_kprobe(ctx: ProbeContext) -> u32 {
    if current_target().is_none() {
        return 0;
    }
    let (Some(cred), Some(target_ns), Some(cap), Some(opts)) = (ctx.arg::<u64>(0), ctx.arg::<u64>(1), ctx.arg::<u32>(2), ctx.arg::<u32>(3))
    else {
        return 0;
    };
    let tid = bpf_get_current_pid_tgid() as u32;
    if PENDING.insert(&tid, &PendingCheck { cred, target_ns, cap, opts }, 0).is_err() {
        bump(counter::PENDING_MAP_FULL);
    }
    0
}

#[kretprobe(function = "cap_capable")]
pub fn capdisc_kretprobe(ctx: RetProbeContext) -> u32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(pending) = (unsafe { PENDING.get(&tid) }).copied() else {
        if current_target().is_some() {
            bump(counter::UNPAIRED_RETURN);
        }
        return 0;
    };
    let _ = PENDING.remove(&tid);
    let ret: i32 = ctx.ret();
    on_check(&ctx, Check { cred: pending.cred, cap: pending.cap, ret, target_ns: pending.target_ns, opts: Some(pending.opts) });
    0
}
