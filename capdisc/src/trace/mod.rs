//! `capdisc trace`: capability checks as they happen, one line (or JSON object) per check, from
//! the same backends, targets and in-kernel filter as `record`. Denials are explained on the
//! spot: capability, syscall, errno, the process's five sets and the likely configuration cause.
use crate::support::console;
mod explain;
mod printer;

use std::time::Duration;

use crate::{
    error::Error,
    kernel::privileges,
    probe::{BackendChoice, MapLimits, StreamConfig},
    scope::TargetSpec,
    session::{Session, SessionOptions},
};

pub use explain::{explain, Explanation};
pub use printer::{Printer, TraceFilter};

pub struct TraceOptions {
    pub backend: BackendChoice,
    pub target: TargetSpec,
    pub filter: TraceFilter,
    pub duration: Option<Duration>,
    pub buffer_bytes: u32,
    pub quiet: bool,
    /// Also show the system calls the target's sandbox refused (seccomp, read-only paths).
    pub sandbox: bool,
}

pub async fn trace(options: TraceOptions) -> Result<i32, Error> {
    privileges::check()?;
    if !options.buffer_bytes.is_power_of_two() || options.buffer_bytes < 4096 {
        return Err(Error::Usage(format!("--buffer-size {} must be a power of two of at least 4096 bytes", options.buffer_bytes)));
    }
    let target = options.target.resolve()?;
    let _finish = target.finish_on_drop(options.quiet);
    let session_options = SessionOptions {
        backend: options.backend,
        quiet: options.quiet,
        limits: MapLimits::default(),
        stream: Some(StreamConfig { buffer_bytes: options.buffer_bytes, stacks: options.filter.stacks }),
        // Each denial shown is followed by what its system call returned.
        syscall_outcomes: true,
        sandbox: options.sandbox,
    };
    let result = async {
        let mut session = Session::start(&target, &session_options)?;
        let mut printer = Printer::new(options.filter, target.cgroup_names());
        if !options.filter.json {
            printer.header();
        }
        let ended = session.wait(&target, options.duration, false, &mut printer).await?;
        printer.tick_counters(&session.probes.ebpf);
        if !options.quiet {
            console::say!("trace stopped: {}; {}", ended.reason, printer.summary());
        }
        Ok(if ended.by_duration { 0 } else { ended.exit_status.unwrap_or(0) })
    }
    .await;
    result
}
