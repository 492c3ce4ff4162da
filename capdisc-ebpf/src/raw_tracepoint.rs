//! Backends `raw_tp` and `tp_btf`: the `cap_capable` tracepoint (Linux 6.13+) without the perf
//! record the classic tracepoint builds for every check before any BPF runs: the program gets
//! the tracepoint's `TP_PROTO` arguments directly, `cred, target_ns, capable_ns, cap, ret`.
//! `raw_tp` is a raw tracepoint program (any kernel with BPF); `tp_btf` is its typed variant
//! (a BPF tracing program, refused where those are). Neither sees `opts`: the no-audit class
//! comes from the sampled call site, as on the tracepoint.
use aya_ebpf::{
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{tracing::StackIdContext, BtfTracePointContext, RawTracePointContext},
    EbpfContext,
};

use crate::record::{on_check, Check};

#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn capdisc_raw_tp(ctx: RawTracePointContext) -> i32 {
    let args = [ctx.arg(0), ctx.arg(1), ctx.arg(3), ctx.arg(4)];
    on_tp_args(&ctx, args);
    0
}

#[btf_tracepoint(function = "cap_capable")]
pub fn capdisc_tp_btf(ctx: BtfTracePointContext) -> i32 {
    let args = [ctx.arg(0), ctx.arg(1), ctx.arg(3), ctx.arg(4)];
    on_tp_args(&ctx, args);
    0
}

/// `cred, target_ns, cap, ret` of the tracepoint's `TP_PROTO` (`capable_ns` is not used).
#[inline(always)]
fn on_tp_args<C: EbpfContext + StackIdContext>(ctx: &C, [cred, target_ns, cap, ret]: [u64; 4]) {
    on_check(ctx, Check { cred, cap: cap as u32, ret: ret as i32, target_ns, opts: None });
}
