//! `capdisc trace`: one ring-buffer event per check of the target. A full buffer is counted
//! (EVENTS_LOST), never hidden. Denied checks carry the checked credentials' five sets.
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_probe_read_kernel,
        generated::{bpf_get_stack, bpf_ktime_get_boot_ns},
    },
    EbpfContext,
};
use capdisc_common::{counter, CheckKey, TraceEvent, TRACE_STACK_DEPTH};

use crate::maps::{
    bump, constant, CRED_AMB_OFFSET, CRED_BND_OFFSET, CRED_EFF_OFFSET, CRED_EUID_OFFSET, CRED_INH_OFFSET, CRED_PRM_OFFSET, EVENTS,
};
use crate::path::read_syscall_path;

#[inline(always)]
pub fn emit<C: EbpfContext>(ctx: &C, key: &CheckKey, cred: u64, with_stack: bool, task: *const u8) {
    let Some(mut entry) = reserve::<TraceEvent>() else { return };
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
        (*event).sets_known = 0;
        (*event)._pad = 0;
        (*event).path_len = read_syscall_path(key.syscall, task, &mut (*event).path);
        if key.ret != 0 {
            read_sets(cred, &mut *event);
        }
        if with_stack {
            let bytes = bpf_get_stack(ctx.as_ptr(), (*event).stack.as_mut_ptr().cast(), (TRACE_STACK_DEPTH * 8) as u32, 0);
            if bytes > 0 {
                (*event).stack_len = (bytes / 8) as u32;
            }
        }
    }
    entry.submit(0);
}

/// The checked credentials' euid and five sets (offsets from kernel BTF), so a denial can be
/// explained even when the process is gone by the time userspace reads the event.
#[inline(always)]
fn read_sets(cred: u64, event: &mut TraceEvent) {
    let base = cred as *const u8;
    if base.is_null() || constant(&CRED_EFF_OFFSET) == 0 {
        return;
    }
    let offsets = [
        constant(&CRED_INH_OFFSET),
        constant(&CRED_PRM_OFFSET),
        constant(&CRED_EFF_OFFSET),
        constant(&CRED_BND_OFFSET),
        constant(&CRED_AMB_OFFSET),
    ];
    for (slot, offset) in event.sets.iter_mut().zip(offsets) {
        match unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize) as *const u64) } {
            Ok(value) => *slot = value,
            Err(_) => return,
        }
    }
    if let Ok(euid) = unsafe { bpf_probe_read_kernel(base.wrapping_add(constant(&CRED_EUID_OFFSET) as usize) as *const u32) } {
        event.euid = euid;
        event.sets_known = 1;
    }
}

/// Room for one item of `trace`'s ring buffer; a full buffer is counted (`EVENTS_LOST`).
#[inline(always)]
pub fn reserve<T: 'static>() -> Option<aya_ebpf::maps::ring_buf::RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        bump(counter::EVENTS_LOST);
    }
    entry
}
