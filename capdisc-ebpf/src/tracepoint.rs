//! Backend `tracepoint`: `capability:cap_capable` (Linux 6.13+). It carries no `opts`, so the
//! no-audit class is derived in userspace from the sampled call site. Field offsets come from
//! tracefs at load time.
use crate::{
    maps::{constant, TP_CAP_OFFSET, TP_CRED_OFFSET, TP_RET_OFFSET, TP_TARGET_NS_OFFSET},
    record::{on_check, Check},
};
use aya_ebpf::{helpers::bpf_probe_read_kernel_buf, macros::tracepoint, programs::TracePointContext, EbpfContext};

use capdisc_common::TRACEPOINT_RECORD_BYTES as RECORD_BYTES;

#[tracepoint(category = "capability", name = "cap_capable")]
pub fn capdisc_tracepoint(ctx: TracePointContext) -> u32 {
    // One copy of the record instead of one helper call per field; the offsets are .rodata
    // constants, so the reads from the copy are fixed stack offsets to the verifier.
    let mut record = [0u64; RECORD_BYTES / 8];
    let bytes = unsafe { core::slice::from_raw_parts_mut(record.as_mut_ptr() as *mut u8, RECORD_BYTES) };
    if unsafe { bpf_probe_read_kernel_buf(ctx.as_ptr() as *const u8, bytes) }.is_err() {
        return 0;
    }
    let cap = field::<u32>(&record, constant(&TP_CAP_OFFSET));
    let ret = field::<i32>(&record, constant(&TP_RET_OFFSET));
    let target_ns = field::<u64>(&record, constant(&TP_TARGET_NS_OFFSET));
    let cred = field::<u64>(&record, constant(&TP_CRED_OFFSET));
    on_check(&ctx, Check { cred, cap, ret, target_ns, opts: None });
    0
}

#[inline(always)]
fn field<T: Copy + Default>(record: &[u64; RECORD_BYTES / 8], offset: u32) -> T {
    let offset = offset as usize;
    if offset + core::mem::size_of::<T>() > RECORD_BYTES {
        return T::default();
    }
    unsafe { core::ptr::read((record.as_ptr() as *const u8).add(offset) as *const T) }
}
