//! `capdisc watch` and `capdisc report` arguments.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

use crate::{
    error::Error,
    probe::{BackendChoice, MapLimits},
    watch::{ReportOptions, WatchOptions, WatchScope},
};

/// Where `watch` keeps its state by default (the service unit's StateDirectory=).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/capdisc/watch";

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// A systemd unit to watch, whichever cgroup its restarts give it (repeatable).
    #[arg(long = "unit", value_name = "NAME")]
    pub units: Vec<String>,
    /// A cgroup v2 subtree to watch (repeatable).
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroups: Vec<PathBuf>,
    /// Every unit on the host, new ones as they appear.
    #[arg(long, conflicts_with_all = ["units", "cgroups"])]
    pub all: bool,
    /// What each target may use: a profile (for every target; an `--all` profile gives each unit
    /// its part), or a directory of per-target profiles named NAME.yaml.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// Learn the baseline of each target that has none from what it uses during this long after
    /// it is first seen (e.g. 10m, 1h, 7d); written to the state directory.
    #[arg(long, value_name = "DURATION", value_parser = super::values::duration, allow_negative_numbers = true)]
    pub learn: Option<Duration>,
    /// Serve Prometheus metrics (OpenMetrics) at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "HOST:PORT", value_parser = super::values::listen_address)]
    pub listen: Option<SocketAddr>,
    /// Where the per-target profiles and baselines are kept; a restarted watch resumes from it.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Time between durable writes of the state directory (seconds, or 500ms, 1m...; also at
    /// SIGTERM/SIGINT); the Prometheus counters move at each write, never ahead of what is written.
    #[arg(long, value_name = "DURATION", default_value = "10", value_parser = super::values::duration, allow_negative_numbers = true)]
    pub interval: Duration,
    /// Stop after this long (seconds, or 30m, 1h...; default: until SIGTERM or Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = super::values::duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,
    /// How to watch cap_capable (as for `record`).
    #[arg(long, default_value = "auto", value_parser = super::values::backend())]
    pub backend: BackendChoice,
    /// Distinct kinds of checks of live cgroups the kernel side can keep (more are counted as lost).
    #[arg(long, value_name = "N", default_value_t = MapLimits::default().checks)]
    pub max_keys: u32,
    /// Use a --baseline that lost checks (it under-states what a service uses: creep is over-reported).
    #[arg(long)]
    pub allow_lossy: bool,
    /// Print nothing but errors and creep.
    #[arg(short, long)]
    pub quiet: bool,
}

impl WatchArgs {
    pub fn into_options(self) -> Result<WatchOptions, Error> {
        let interval = self.interval;
        if self.max_keys == 0 {
            return Err(Error::Usage("--max-keys must be at least 1".into()));
        }
        Ok(WatchOptions {
            scope: WatchScope { units: self.units, cgroups: self.cgroups, all: self.all },
            backend: self.backend,
            baseline: self.baseline,
            learn: self.learn,
            listen: self.listen,
            state_dir: self.state_dir,
            interval,
            duration: self.duration,
            limits: MapLimits { checks: self.max_keys, cgroup_names: 8_192, ..MapLimits::default() },
            allow_lossy: self.allow_lossy,
            quiet: self.quiet,
        })
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The state directory of `capdisc watch`.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl ReportArgs {
    pub fn run(self) -> Result<i32, Error> {
        crate::watch::report(&ReportOptions { state_dir: self.state_dir, json: self.json })
    }
}
