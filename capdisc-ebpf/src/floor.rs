//! The hook's floor, for `cargo xtask bench` only: empty programs on the raw and the classic
//! `cap_capable` tracepoint, so the benchmark can tell what the hook itself costs from what
//! capdisc's per-check path adds. Never attached by a recording.
use aya_ebpf::{
    macros::{raw_tracepoint, tracepoint},
    programs::{RawTracePointContext, TracePointContext},
};

#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn capdisc_floor_raw_tp(_ctx: RawTracePointContext) -> i32 {
    0
}

#[tracepoint(category = "capability", name = "cap_capable")]
pub fn capdisc_floor_tracepoint(_ctx: TracePointContext) -> u32 {
    0
}
