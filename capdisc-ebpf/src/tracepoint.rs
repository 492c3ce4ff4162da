//! Backend `tracepoint`: `capability:cap_capable` (Linux 6.13+). It carries no `opts`, so the
//! no-audit class is derived in userspace from the sampled call site. Field offsets come from
//! tracefs at load time.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};

use crate::{
    maps::{constant, TP_CAP_OFFSET, TP_CRED_OFFSET, TP_RET_OFFSET, TP_TARGET_NS_OFFSET},
    record::{on_check, Check},
};

#[tracepoint(category = "capability", name = "cap_capable")]
pub fn capdisc_tracepoint(ctx: TracePointContext) -> u32 {
    let fields = unsafe {
        (
            ctx.read_at::<u32>(constant(&TP_CAP_OFFSET) as usize),
            ctx.read_at::<i32>(constant(&TP_RET_OFFSET) as usize),
            ctx.read_at::<u64>(constant(&TP_TARGET_NS_OFFSET) as usize),
            ctx.read_at::<u64>(constant(&TP_CRED_OFFSET) as usize),
        )
    };
    if let (Ok(cap), Ok(ret), Ok(target_ns), Ok(cred)) = fields {
        on_check(&ctx, Check { cred, cap, ret, target_ns, opts: None });
    }
    0
}
