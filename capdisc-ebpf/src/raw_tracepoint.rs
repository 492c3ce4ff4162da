//! Backends `raw_tp` and `tp_btf`: the `cap_capable` tracepoint (Linux 6.13+) without the perf
//! record the classic tracepoint builds for every check before any BPF runs: the program gets
//! the tracepoint's `TP_PROTO` arguments directly, `cred, target_ns, capable_ns, cap, ret`.
//! `raw_tp` is a raw tracepoint program (any kernel with BPF); `tp_btf` is its typed variant
//! (a BPF tracing program, refused where those are). Neither sees `opts`: the no-audit class
//! comes from the sampled call site, as on the tracepoint.
use aya_ebpf::{
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
};

use crate::record::{on_check, Check};

#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn capdisc_raw_tp(ctx: RawTracePointContext) -> i32 {
    let cred: u64 = ctx.arg(0);
    let target_ns: u64 = ctx.arg(1);
    let cap: u64 = ctx.arg(3);
    let ret: u64 = ctx.arg(4);
    on_check(&ctx, Check { cred, cap: cap as u32, ret: ret as i32, target_ns, opts: None });
    0
}

#[btf_tracepoint(function = "cap_capable")]
pub fn capdisc_tp_btf(ctx: BtfTracePointContext) -> i32 {
    let cred: u64 = ctx.arg(0);
    let target_ns: u64 = ctx.arg(1);
    let cap: u64 = ctx.arg(3);
    let ret: u64 = ctx.arg(4);
    on_check(&ctx, Check { cred, cap: cap as u32, ret: ret as i32, target_ns, opts: None });
    0
}
