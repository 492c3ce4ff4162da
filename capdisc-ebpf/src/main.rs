//! capdisc's kernel programs. One object, several program families that all feed the same
//! filter-and-count core (`record`), so the backends cannot drift apart:
//! - `raw_tracepoint`: `raw_tp` and `tp_btf` on the same tracepoint, without its perf record,
//! - `tracepoint`: `capability:cap_capable` (Linux 6.13+, no `opts`),
//! - `kprobe`: kprobe + kretprobe on `cap_capable`, paired per thread,
//! - `fexit`: fexit on `cap_capable` (arguments and return value together),
//! - `task`: fork/exit/exec tracepoints that keep the target set current and arm the exec gate,
//! - `stream`: the per-event path of `capdisc trace` (ring buffer), off unless STREAM is set,
//! - `outcome`: what a system call returned after a denied check, and `sandbox`: the system
//!   calls the target's sandbox refused, both fed by `syscall_hooks` (`raw_syscalls:sys_enter`
//!   and `sys_exit`), attached only when asked, with `activity`: what the target did that the
//!   sandboxing settings depend on (the calls it made, the paths it wrote),
//! - `floor`: empty programs on the same hooks, for the benchmark's floor.
//!
//! Userspace loads only the programs of the backend it chose.
#![no_std]
#![feature(core_intrinsics)]
#![allow(internal_features)]
#![no_main]

mod activity;
mod cgroups;
mod fexit;
mod filter;
mod floor;
mod kprobe;
mod maps;
mod outcome;
mod path;
mod raw_tracepoint;
mod record;
mod regs;
mod sandbox;
mod stream;
mod syscall_hooks;
mod task;
mod tracepoint;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
