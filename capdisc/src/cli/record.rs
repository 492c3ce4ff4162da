//! `capdisc record` arguments.
use std::{path::PathBuf, time::Duration};

use super::target::TargetArgs;

use clap::Args;

use crate::{
    error::Error,
    probe::{BackendChoice, MapLimits},
    profile::Format,
    record::RecordOptions,
};

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// How to watch cap_capable: auto (the cheapest this kernel offers: raw_tp, tp_btf, fexit,
    /// kprobe, then the tracepoint), or one of those.
    #[arg(long, default_value = "auto", value_parser = super::values::backend())]
    pub backend: BackendChoice,
    /// Where to write the profile (written atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the profile as JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
    /// Stop after this long (seconds, or 500ms, 2m...; a spawned command gets SIGTERM).
    #[arg(long, value_name = "DURATION", value_parser = super::values::duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Distinct kinds of checks the kernel side can keep (more are counted as lost).
    #[arg(long, value_name = "N", default_value_t = MapLimits::default().checks)]
    pub max_keys: u32,
    /// Distinct kernel stacks the kernel side can keep.
    #[arg(long, value_name = "N", default_value_t = MapLimits::default().stacks)]
    pub max_stacks: u32,
    /// Also keep the system calls the target's sandbox refuses (a seccomp filter's refusal, a
    /// write to a read-only path, a path made inaccessible), each with the unit setting that
    /// refused it and the narrowest fix (the profile's `refusals`). Two programs on every system
    /// call of the host while recording (docs/how-it-records.md measures them).
    #[arg(long)]
    pub sandbox: bool,
}

impl RecordArgs {
    pub fn into_options(self) -> Result<RecordOptions, Error> {
        let target = self
            .target
            .spec()?
            .ok_or_else(|| Error::Usage("name what to record: -- CMD ARGS, --pid PID, --cgroup PATH, --unit NAME or --all".into()))?;
        let duration = self.duration;
        if self.max_keys == 0 || self.max_stacks == 0 {
            return Err(Error::Usage("--max-keys and --max-stacks must be at least 1".into()));
        }
        let format = if self.json { Format::Json } else { Format::Yaml };
        let output = self.output.unwrap_or_else(|| PathBuf::from(if self.json { "capdisc-profile.json" } else { "capdisc-profile.yaml" }));
        Ok(RecordOptions {
            backend: self.backend,
            output,
            format,
            duration,
            quiet: self.quiet,
            target,
            limits: MapLimits { checks: self.max_keys, stacks: self.max_stacks, ..MapLimits::default() },
            sandbox: self.sandbox,
        })
    }
}
