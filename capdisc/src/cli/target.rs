//! The target arguments shared by `record` and `trace`.
use std::path::PathBuf;

use clap::Args;

use crate::target::TargetSpec;

#[derive(Args, Debug)]
#[group(id = "target", multiple = false)]
pub struct TargetArgs {
    /// This process, its threads and every descendant, including later ones.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Every task in this cgroup v2 directory and below.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// A running systemd unit, in place, without a restart.
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,
    /// Every task on the host, broken down per cgroup and systemd unit.
    #[arg(long)]
    pub all: bool,
    /// The command to spawn (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl TargetArgs {
    /// The named target, or None when none was named.
    pub fn spec(self) -> Option<TargetSpec> {
        if let Some(pid) = self.pid {
            Some(TargetSpec::Pid(pid))
        } else if let Some(path) = self.cgroup {
            Some(TargetSpec::Cgroup(path))
        } else if let Some(unit) = self.unit {
            Some(TargetSpec::Unit(unit))
        } else if self.all {
            Some(TargetSpec::All)
        } else if !self.command.is_empty() {
            Some(TargetSpec::Command(self.command))
        } else {
            None
        }
    }
}
