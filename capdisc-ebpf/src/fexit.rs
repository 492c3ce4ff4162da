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
    // The return value sits in the context right after the arguments. Read there rather than
    // through bpf_get_func_ret: verifiers from 5.17 to 6.7 mis-track the helper's linked
    // scalars and prune the "denied" branches as dead (seen on 6.1). Userspace checks in BTF
    // that cap_capable takes exactly these 4 arguments before it loads this program.
    let ret: i64 = ctx.arg(4);
    on_check(&ctx, Check { cred, cap, ret: ret as i32, target_ns, opts: Some(opts) });
    0
}
