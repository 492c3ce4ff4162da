//! `capdisc watch`: a recorder built to run for months. The kernel aggregates exactly as for
//! `record`; every second the maps are read, cgroups that are gone are folded into their
//! targets (kernel memory holds live cgroups only), each target's use is compared with its
//! baseline (creep is announced once, on stderr and in the journal). Every `--interval` and at
//! the end, each target's profile is rewritten durably in the state directory, which a
//! restarted `watch` resumes from, and the Prometheus counters move to what was written (never
//! ahead of it, so no death makes them go back). Named targets are followed by path (`presence`).
//! `capdisc report` reads the state.
use crate::support::console;
mod baseline;
mod creep;
mod ledger;
mod metrics;
mod naming;
mod presence;
mod report;
mod state;

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use capdisc_common::mode;

pub use creep::MESSAGE_ID;
pub use naming::{host_target_of, Selector};
pub use report::{report, ReportOptions};

use self::{
    baseline::{Baselines, Standing},
    creep::{outside, Announcer},
    ledger::Ledger,
    metrics::Metrics,
    presence::Presence,
    state::{HostState, StateDir},
};
use crate::{
    error::Error,
    host::CgroupPath,
    kernel::kallsyms::Kallsyms,
    kernel::privileges,
    kernel::program_log::KernelLog,
    probe::{BackendChoice, MapLimits, ProbeConfig, Probes},
    profile::{Losses, Profile},
    session::StopSignals,
    support::clock::rfc3339,
    systemd,
};

/// How often the kernel maps are read (creep is announced within this).
const SCAN_PERIOD: Duration = Duration::from_secs(1);

/// What to watch, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct WatchScope {
    pub units: Vec<String>,
    pub cgroups: Vec<PathBuf>,
    pub all: bool,
}

pub struct WatchOptions {
    pub scope: WatchScope,
    pub backend: BackendChoice,
    pub baseline: Option<PathBuf>,
    pub learn: Option<Duration>,
    pub listen: Option<SocketAddr>,
    pub state_dir: PathBuf,
    pub interval: Duration,
    pub duration: Option<Duration>,
    pub limits: MapLimits,
    /// Use a given baseline that lost checks.
    pub allow_lossy: bool,
    pub quiet: bool,
}

pub async fn watch(options: WatchOptions) -> Result<i32, Error> {
    privileges::check()?;
    let (selectors, filter, cgroups) = resolve(&options.scope)?;
    let state = StateDir::at(&options.state_dir)?;
    let resumed = state.targets()?;
    let previous = state.host()?;
    let baselines = Baselines::new(options.baseline.as_deref(), options.learn, state.baselines()?, options.allow_lossy)?;
    let mut metrics = Metrics::new();
    let server = match options.listen {
        Some(address) => Some(metrics.listen(address).await?),
        None => None,
    };
    let mut signals = StopSignals::install()?;
    let say = |line: &str| {
        if !options.quiet {
            console::say!("{line}");
        }
    };

    // No single-cgroup fast path: a watched cgroup made again has a new id the filter must learn.
    let config = ProbeConfig {
        mode: filter.0,
        cgroup_level: filter.1,
        single_cgroup: None,
        limits: options.limits,
        stream: None,
        syscall_outcomes: false,
        sandbox: false,
        skip_runtime: false,
    };
    let mut probes = Probes::load(options.backend, &config)?;
    say(&probes.selection);
    let mut kernel_log = KernelLog::start(&mut probes.ebpf);
    let units: Vec<String> =
        selectors.iter().filter_map(|selector| if let Selector::Unit(name) = selector { Some(name.clone()) } else { None }).collect();
    let mut presence = Presence::new(&cgroups, &units, filter.0 == mode::CGROUP, options.quiet);
    presence.follow_in_kernel(&mut probes.ebpf, &probes.tracefs.0, filter.1)?;
    let resumed_count = resumed.len();
    let ledger = Ledger::new(selectors.clone(), resumed, probes.backend, probes.selection.clone());
    presence.refresh(&mut probes.ebpf, &metrics, &ledger.live_targets)?;
    // Made once everything that can refuse the run (the listen address, the probes) has not: a
    // refused watch leaves no state directory behind.
    state.create()?;
    let mut watcher = Watcher {
        ledger,
        baselines,
        state,
        previous,
        announcer: Announcer::new(),
        kallsyms: Kallsyms::load().ok(),
        profiles: HashMap::new(),
        built_at: HashMap::new(),
        written_at: HashMap::new(),
        baselines_written: BTreeSet::new(),
        unjudged: BTreeSet::new(),
        saves: SaveCost::default(),
        max_keys: options.limits.checks,
        quiet: options.quiet,
    };
    watcher.resume(&mut metrics)?;
    if !probes.backend.sees_opts() && watcher.kallsyms.as_ref().is_none_or(Kallsyms::is_empty) {
        console::warning!("/proc/kallsyms shows no addresses (CAP_SYSLOG missing, or kptr_restrict=2): call sites cannot be named, so on the {} backend no-audit probes count as audited and may be reported as creep", probes.backend);
    }
    if let Some(server) = server {
        if let Some(address) = server.address() {
            say(&format!("metrics at http://{address}/metrics"));
        }
        server.spawn();
    }
    say(&watcher.baselines.describe());
    say(&format!(
        "watching {} (state in {}{})",
        describe(&selectors),
        options.state_dir.display(),
        if resumed_count > 0 { format!(", resuming {resumed_count} target(s)") } else { String::new() }
    ));

    let mut scan = tokio::time::interval(SCAN_PERIOD);
    let mut save = tokio::time::interval_at(tokio::time::Instant::now() + options.interval, options.interval);
    let deadline = options.duration.map(|duration| tokio::time::Instant::now() + duration);
    let reason = loop {
        tokio::select! {
            // A months-long service keeps going through a failed scan or write (a full disk, a
            // map read refused): said on stderr, tried again at the next tick.
            _ = scan.tick() => {
                if let Err(err) = watcher.step(&mut probes, &mut metrics) {
                    console::warning!("scan failed: {err}; trying again in {} s", SCAN_PERIOD.as_secs());
                }
                if let Err(err) = presence.refresh(&mut probes.ebpf, &metrics, &watcher.ledger.live_targets) {
                    console::warning!("cannot look at the named targets: {err}; trying again in {} s", SCAN_PERIOD.as_secs());
                }
                kernel_log.flush();
            }
            _ = save.tick() => {
                if let Err(err) = watcher.save(&mut metrics) {
                    console::warning!("cannot write the state directory: {err}; trying again in {} s", options.interval.as_secs_f64());
                }
            }
            _ = async { tokio::time::sleep_until(deadline.expect("guarded by if")).await }, if deadline.is_some() => break "the duration elapsed",
            (why, _) = signals.recv() => break why,
        }
    };
    // Nothing counts after this: the last reading, and the state written from it, are exact.
    probes.stop();
    watcher.step(&mut probes, &mut metrics)?;
    kernel_log.flush();
    watcher.save(&mut metrics)?;
    let total: u64 = watcher.profiles.values().map(|profile| profile.totals.checks).sum();
    say(&format!(
        "watch stopped ({reason}): {} target(s), {total} check(s) in all, profiles in {} ({})",
        watcher.ledger.targets.len(),
        watcher.state.root().join("targets").display(),
        watcher.saves.describe()
    ));
    Ok(0)
}

struct Watcher {
    ledger: Ledger,
    baselines: Baselines,
    state: StateDir,
    previous: HostState,
    announcer: Announcer,
    kallsyms: Option<Kallsyms>,
    /// Each target's latest profile (earlier runs included).
    profiles: HashMap<String, Profile>,
    /// Checks of this run each profile was built from / last written with.
    built_at: HashMap<String, u64>,
    written_at: HashMap<String, u64>,
    baselines_written: BTreeSet<String>,
    unjudged: BTreeSet<String>,
    saves: SaveCost,
    max_keys: u32,
    quiet: bool,
}

/// What writing the state costs (said when `watch` stops; docs/watch.md's figures come from it).
#[derive(Default)]
struct SaveCost {
    count: u32,
    total: Duration,
    longest: Duration,
}

impl SaveCost {
    fn record(&mut self, took: Duration) {
        self.count += 1;
        self.total += took;
        self.longest = self.longest.max(took);
    }

    fn describe(&self) -> String {
        let mean = self.total.checked_div(self.count).unwrap_or_default();
        format!(
            "state written {} time(s), {:.1} ms each on average, {:.1} ms at most",
            self.count,
            mean.as_secs_f64() * 1e3,
            self.longest.as_secs_f64() * 1e3
        )
    }
}

impl Watcher {
    /// What an earlier run left in the state directory: its creep is not announced again, and
    /// its counts are exported at once (they are durable).
    fn resume(&mut self, metrics: &mut Metrics) -> Result<(), Error> {
        let resumed: Vec<(String, Profile, SystemTime)> = self
            .ledger
            .targets
            .iter()
            .filter_map(|(name, target)| target.base.clone().map(|base| (name.clone(), base, target.seen_at)))
            .collect();
        for (name, base, seen_at) in resumed {
            metrics.update_target(&name, &base);
            if let Standing::Judged(baseline) = self.baselines.standing(&name, seen_at)? {
                for creep in outside(&name, &base, baseline) {
                    metrics.update_creep(&creep);
                    self.announcer.already(&creep);
                }
            }
        }
        metrics.update_lost(&self.previous.losses);
        Ok(())
    }

    /// One scan: read the kernel, rebuild what changed, judge it (creep is announced at once).
    /// The counters move when what they count is durable (`save`), never before: a restart after
    /// any death exports at least what was exported.
    fn step(&mut self, probes: &mut Probes, metrics: &mut Metrics) -> Result<(), Error> {
        self.ledger.scan(&mut probes.ebpf)?;
        let names: Vec<String> = self.ledger.targets.keys().cloned().collect();
        for name in &names {
            let target = &self.ledger.targets[name];
            let (checks, seen_at) = (target.run_checks(), target.seen_at);
            let changed = self.built_at.get(name) != Some(&checks);
            if changed {
                if let Some(profile) = self.ledger.profile(name, self.kallsyms.as_ref()) {
                    self.profiles.insert(name.clone(), profile);
                }
                self.built_at.insert(name.clone(), checks);
            }
            let Some(profile) = self.profiles.get(name) else { continue };
            match self.baselines.standing(name, seen_at)? {
                Standing::Judged(baseline) => {
                    if changed {
                        for creep in outside(name, profile, baseline) {
                            self.announcer.announce(&creep);
                        }
                    }
                }
                Standing::Learning(until) => {
                    if SystemTime::now() >= until {
                        let learned = profile.clone();
                        if !self.quiet {
                            let names = learned.granted_names();
                            console::say!(
                                "learned the baseline of {name}: {}",
                                if names.is_empty() { "no capabilities".to_owned() } else { names.join(" ") }
                            );
                        }
                        self.baselines.learned(name, learned, seen_at);
                    }
                }
                Standing::Unjudged => {
                    if self.unjudged.insert(name.clone()) && !self.quiet {
                        console::note!(
                            "{name} has no baseline: its checks are counted, never judged (give it one in --baseline DIR, or --learn)"
                        );
                    }
                }
            }
        }
        metrics.set_targets(self.ledger.targets.len());
        metrics.set_kernel_keys(self.ledger.kernel_keys, self.max_keys);
        Ok(())
    }

    /// Host-wide losses over every run.
    fn losses(&self) -> Losses {
        let mut losses = self.previous.losses.clone();
        losses.add(&Losses::from_counters(self.ledger.counters()));
        losses
    }

    /// Rewrites what changed in the state directory (atomically and durably, file by file), then
    /// moves the counters to what was written.
    fn save(&mut self, metrics: &mut Metrics) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let names: Vec<String> = self.ledger.targets.keys().cloned().collect();
        for name in &names {
            let (checks, seen_at) = (self.ledger.targets[name].run_checks(), self.ledger.targets[name].seen_at);
            if self.written_at.get(name) == Some(&checks) {
                continue;
            }
            // The last scan built it from these very counts (the usual case): written as it is.
            let built = self.profiles.get(name).filter(|_| self.built_at.get(name) == Some(&checks)).cloned();
            if let Some(profile) = built.or_else(|| self.ledger.profile(name, self.kallsyms.as_ref())) {
                self.state.write_target(name, &profile)?;
                self.written_at.insert(name.clone(), checks);
                metrics.update_target(name, &profile);
                if let Standing::Judged(baseline) = self.baselines.standing(name, seen_at)? {
                    for creep in outside(name, &profile, baseline) {
                        metrics.update_creep(&creep);
                    }
                }
            }
        }
        for (name, baseline) in self.baselines.all() {
            if self.baselines_written.insert(name.clone()) {
                self.state.write_baseline(name, baseline)?;
            }
        }
        let now = rfc3339(SystemTime::now());
        let host = HostState {
            losses: self.losses(),
            since: if self.previous.since.is_empty() { rfc3339(self.ledger.started) } else { self.previous.since.clone() },
            updated: now,
        };
        self.state.write_host(&host)?;
        metrics.update_lost(&host.losses);
        self.saves.record(started.elapsed());
        Ok(())
    }
}

/// The targets, and how the kernel programs filter: by cgroup when every target is a
/// `--cgroup` at one depth (each id armed as it appears, see `presence`), else every task,
/// attributed in userspace (a unit gets a new cgroup on each restart, and `--all` takes in new
/// ones). Named targets need not exist yet: they are waited for.
#[allow(clippy::type_complexity)]
fn resolve(scope: &WatchScope) -> Result<(Vec<Selector>, (u32, u32), Vec<CgroupPath>), Error> {
    if scope.all {
        return Ok((vec![Selector::All], (mode::ALL, 0), Vec::new()));
    }
    if scope.units.is_empty() && scope.cgroups.is_empty() {
        return Err(Error::Usage("name what to watch: --unit NAME, --cgroup PATH (each may repeat) or --all".into()));
    }
    let mut selectors = Vec::new();
    if !scope.units.is_empty() {
        systemd::require_running()?;
        selectors.extend(scope.units.iter().map(|name| Selector::unit(name)));
    }
    let cgroups: Vec<CgroupPath> = scope.cgroups.iter().map(|path| presence::locate(path)).collect::<Result<_, _>>()?;
    selectors.extend(cgroups.iter().map(|cgroup| Selector::Cgroup(cgroup.relative.clone())));
    let by_cgroup = scope.units.is_empty() && cgroups.windows(2).all(|pair| pair[0].level == pair[1].level);
    match cgroups.first() {
        Some(first) if by_cgroup => Ok((selectors, (mode::CGROUP, first.level), cgroups)),
        _ => Ok((selectors, (mode::ALL, 0), cgroups)),
    }
}

fn describe(selectors: &[Selector]) -> String {
    let parts: Vec<String> = selectors
        .iter()
        .map(|selector| match selector {
            Selector::Unit(name) => format!("unit {name}"),
            Selector::Cgroup(path) => format!("cgroup {path}"),
            Selector::All => "every unit on the host".to_owned(),
        })
        .collect();
    parts.join(", ")
}
