//! `capdisc trace`: one ring-buffer event per check of the target. A full buffer is counted
//! (EVENTS_LOST), never hidden.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::{bpf_get_stack, bpf_ktime_get_boot_ns}},
    EbpfContext,
};
use capdisc_common::{counter, CheckKey, TraceEvent, TRACE_STACK_DEPTH};

use crate::maps::{bump, EVENTS};

#[inline(always)]
pub fn emit<C: EbpfContext>(ctx: &C, key: &CheckKey, with_stack: bool) {
    let Some(mut entry) = EVENTS.reserve::<TraceEvent>(0) else {
        bump(counter::EVENTS_LOST);
        return;
    };
    let event = entry.as_mut_ptr();
    let pid_tgid = bpf_get_current_pid_tgid();
    unsafe {
        (*event).ts_ns = bpf_ktime_get_boot_ns();
        (*event).cgroup_id = key.cgroup_id;
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = pid_tgid as u32;
        (*event).uid = key.uid;
        (*event).cap = key.cap;
        (*event).ret = key.ret;
        (*event).syscall = key.syscall;
        (*event).flags = key.flags;
        (*event).comm = key.comm;
        (*event).stack_len = 0;
        if with_stack {
            let bytes = bpf_get_stack(ctx.as_ptr(), (*event).stack.as_mut_ptr().cast(), (TRACE_STACK_DEPTH * 8) as u32, 0);
            if bytes > 0 {
                (*event).stack_len = (bytes / 8) as u32;
            }
        }
    }
    entry.submit(0);
}
