//! `capdisc record` arguments.
use std::{path::PathBuf, time::Duration};

use clap::Args;

use crate::{
    error::Error,
    probe::{BackendChoice, MapLimits},
    profile::Format,
    record::RecordOptions,
    target::TargetSpec,
};

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["pid", "cgroup", "unit", "all", "command"]))]
pub struct RecordArgs {
    /// How to watch cap_capable: auto (fexit, then kprobe, then the tracepoint), fexit, kprobe or tracepoint.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    pub backend: BackendChoice,
    /// Where to write the profile (written atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the profile as JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds (a spawned command gets SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Record this process, its threads and every descendant, including later ones.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Record every task in this cgroup v2 directory and below.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// Record a running systemd unit in place, without a restart.
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,
    /// Record every task on the host, broken down per cgroup and systemd unit.
    #[arg(long)]
    pub all: bool,
    /// Distinct kinds of checks the kernel side can keep (more are counted as lost).
    #[arg(long, value_name = "N", default_value_t = MapLimits::default().checks)]
    pub max_keys: u32,
    /// Distinct kernel stacks the kernel side can keep.
    #[arg(long, value_name = "N", default_value_t = MapLimits::default().stacks)]
    pub max_stacks: u32,
    /// The command to spawn and record (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

fn parse_backend(text: &str) -> Result<BackendChoice, String> {
    text.parse()
}

impl RecordArgs {
    pub fn into_options(self) -> Result<RecordOptions, Error> {
        let target = if let Some(pid) = self.pid {
            TargetSpec::Pid(pid)
        } else if let Some(path) = self.cgroup {
            TargetSpec::Cgroup(path)
        } else if let Some(unit) = self.unit {
            TargetSpec::Unit(unit)
        } else if self.all {
            TargetSpec::All
        } else {
            TargetSpec::Command(self.command)
        };
        let duration = match self.duration {
            Some(secs) if !(secs.is_finite() && secs > 0.0) => {
                return Err(Error::Usage(format!("--duration {secs} is not a positive number of seconds")))
            }
            Some(secs) => Some(Duration::from_secs_f64(secs)),
            None => None,
        };
        if self.max_keys == 0 || self.max_stacks == 0 {
            return Err(Error::Usage("--max-keys and --max-stacks must be at least 1".into()));
        }
        let format = if self.json { Format::Json } else { Format::Yaml };
        let output = self.output.unwrap_or_else(|| {
            PathBuf::from(if self.json { "capdisc-profile.json" } else { "capdisc-profile.yaml" })
        });
        Ok(RecordOptions {
            backend: self.backend,
            output,
            format,
            duration,
            quiet: self.quiet,
            target,
            limits: MapLimits { checks: self.max_keys, stacks: self.max_stacks, ..MapLimits::default() },
        })
    }
}
