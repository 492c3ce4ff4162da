//! Backend `fexit`: fexit on `cap_capable(cred, target_ns, cap, opts)`, arguments and return
//! value in one program (needs BPF tracing programs and kernel BTF).
use aya_ebpf::{macros::fexit, programs::FExitContext};

use crate::record::{on_check, Check};

#[fexit(function = "cap_capable")]
pub fn capdisc_fexit(ctx: FExitContext) -> i32 {
    let cred: u64 = ctx.arg(0);
    let target_ns: u64 = ctx.arg(1);
    let cap: u32 = ctx.arg(2);
    let opts: u32 = ctx.arg(3);
    if let Ok(ret) = ctx.ret::<i32>() {
        on_check(&ctx, Check { cred, cap, ret, target_ns, opts: Some(opts) });
    }
    0
}
