//! `capdisc trace` arguments.
use std::time::Duration;

use clap::Args;

use super::target::TargetArgs;
use crate::{
    error::Error,
    probe::BackendChoice,
    scope::TargetSpec,
    trace::{TraceFilter, TraceOptions},
};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// How to watch cap_capable: auto, raw_tp, tp_btf, fexit, kprobe or tracepoint.
    #[arg(long, default_value = "auto", value_parser = super::values::backend())]
    pub backend: BackendChoice,
    /// Print each distinct (target, capability, verdict, syscall) once.
    #[arg(long)]
    pub unique: bool,
    /// Add the symbolized kernel call chain.
    #[arg(long)]
    pub stacks: bool,
    /// Show only denied checks, each explained.
    #[arg(long)]
    pub denied: bool,
    /// Also show no-audit (advisory) checks, hidden by default.
    #[arg(long)]
    pub noaudit: bool,
    /// Also show file-permission fallbacks: checks the kernel makes only after a file's mode
    /// bits refused (CAP_DAC_OVERRIDE on a path walk...). Hidden by default, and counted, so the
    /// checks that decide (a bind, a chown) stand out.
    #[arg(long)]
    pub fallbacks: bool,
    /// Do not watch for the system calls the target's sandbox refuses (a seccomp filter's
    /// refusal, a write to a read-only path, a path made inaccessible): shown by default, each
    /// with the unit setting that refused it and the narrowest fix. They cost two programs on
    /// every system call of the host while tracing.
    #[arg(long)]
    pub no_sandbox: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Stop after this long (seconds, or 500ms, 2m...).
    #[arg(long, value_name = "DURATION", value_parser = super::values::duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,
    /// Ring buffer size in bytes (a power of two).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub buffer_size: u32,
    /// Print nothing on stderr but errors and losses.
    #[arg(short, long)]
    pub quiet: bool,
    /// What to trace; nothing means the whole host.
    #[command(flatten)]
    pub target: TargetArgs,
}

impl TraceArgs {
    pub fn into_options(self) -> Result<TraceOptions, Error> {
        Ok(TraceOptions {
            backend: self.backend,
            target: self.target.spec()?.unwrap_or(TargetSpec::All),
            filter: TraceFilter {
                unique: self.unique,
                stacks: self.stacks,
                denied_only: self.denied,
                show_noaudit: self.noaudit,
                json: self.json,
                fallbacks: self.fallbacks,
            },
            duration: self.duration,
            buffer_bytes: self.buffer_size,
            quiet: self.quiet,
            sandbox: !self.no_sandbox,
        })
    }
}
