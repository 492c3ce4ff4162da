//! What to record (the scope of a recording or trace): a command capdisc spawns, a running process tree, a cgroup subtree, a
//! systemd unit's cgroup, or the whole host. Resolving a target validates it (before any
//! probe is loaded) and says how the kernel programs must filter for it.
use crate::support::console;
mod unit;

use std::path::PathBuf;

use aya::Ebpf;
use capdisc_common::{cgroup_state, mode};

use crate::{
    container::{self, CapSetting, Container, ContainerTarget, RunCommand, Runtime},
    error::Error,
    host::{pid, Cgroup, CgroupNames, RunAs},
    probe::{insert_cgroup, insert_pids},
    profile::TargetKind,
    systemd::{unit_name, RuntimeChange, UnitRestart},
};

/// A target as the user named it.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    /// A command to spawn; `until_exit`: stop with its first process instead of following
    /// every process it starts until the last is gone.
    /// `bounding`: run it under exactly this bounding set (a `verify`/`minimize` trial).
    Command {
        argv: Vec<String>,
        until_exit: bool,
        run_as: Option<RunAs>,
        bounding: Option<u64>,
    },
    Pid(u32),
    Cgroup(PathBuf),
    /// A systemd unit; with `restart`, recorded from its start under that runtime change.
    Unit {
        name: String,
        restart: Option<RuntimeChange>,
    },
    /// A running podman or docker container; with `restart`, recorded from its start.
    Container {
        name: String,
        runtime: Option<Runtime>,
        restart: bool,
    },
    /// A container capdisc runs from its run command, with its capabilities as `caps` says;
    /// `trial`: named and removed by capdisc.
    ContainerRun {
        run: RunCommand,
        caps: CapSetting,
        trial: bool,
    },
    All,
}

/// A resolved target.
#[derive(Debug)]
pub enum Target {
    /// A fresh leaf cgroup the command will run in (created by capdisc, removed afterwards).
    Command {
        argv: Vec<String>,
        cgroup: Cgroup,
        until_exit: bool,
        run_as: Option<RunAs>,
        bounding: Option<u64>,
    },
    Pid {
        pid: u32,
    },
    Cgroup {
        cgroup: Cgroup,
    },
    Unit {
        name: String,
        cgroup: Cgroup,
        restart: Option<UnitRestart>,
    },
    Container(ContainerTarget),
    All,
}

impl TargetSpec {
    pub fn resolve(&self) -> Result<Target, Error> {
        Ok(match self {
            TargetSpec::Command { argv, until_exit, run_as, bounding } => {
                if argv.is_empty() {
                    return Err(Error::Usage("no command given after `--`".into()));
                }
                Target::Command {
                    argv: argv.clone(),
                    cgroup: Cgroup::create_leaf()?,
                    until_exit: *until_exit,
                    run_as: run_as.clone(),
                    bounding: *bounding,
                }
            }
            TargetSpec::Pid(pid) => {
                pid::check_exists(*pid)?;
                Target::Pid { pid: *pid }
            }
            TargetSpec::Cgroup(path) => Target::Cgroup { cgroup: Cgroup::open_user_path(path)? },
            TargetSpec::Unit { name, restart: None } => {
                let cgroup = unit::resolve_cgroup(name)?;
                Target::Unit { name: unit_name(name), cgroup, restart: None }
            }
            TargetSpec::Unit { name, restart: Some(change) } => {
                let (cgroup, restart) = unit::prepare_restart(name, change)?;
                Target::Unit { name: unit_name(name), cgroup, restart: Some(restart) }
            }
            TargetSpec::Container { name, runtime, restart } => {
                let container = Container::inspect(name, *runtime)?;
                Target::Container(if *restart {
                    let (cgroup, restart) = container::ContainerRestart::stop(container)?;
                    ContainerTarget::Restarted { cgroup, restart }
                } else {
                    let cgroup = Cgroup::open_user_path(&container.cgroup_path()?)?;
                    ContainerTarget::Attached { container, cgroup }
                })
            }
            TargetSpec::ContainerRun { run, caps, trial } => {
                Target::Container(ContainerTarget::Run(container::ContainerRun::prepare(run, *caps, *trial)?))
            }
            TargetSpec::All => Target::All,
        })
    }
}

impl Target {
    /// The one cgroup the target is (a command's, a cgroup, a unit's, a container's); none for a
    /// process tree or the host.
    pub fn cgroup(&self) -> Option<&Cgroup> {
        match self {
            Target::Command { cgroup, .. } | Target::Cgroup { cgroup } | Target::Unit { cgroup, .. } => Some(cgroup),
            Target::Container(container) => Some(container.cgroup()),
            Target::Pid { .. } | Target::All => None,
        }
    }

    /// Filter mode and cgroup depth for the kernel programs.
    pub fn filter(&self) -> (u32, u32) {
        match (self, self.cgroup()) {
            (_, Some(cgroup)) => (mode::CGROUP, cgroup.level),
            (Target::Pid { .. }, None) => (mode::PIDS, 0),
            _ => (mode::ALL, 0),
        }
    }

    /// The one target cgroup, for the kernel's single-cgroup fast path (mode CGROUP).
    pub fn single_cgroup(&self) -> Option<u64> {
        self.cgroup().map(|cgroup| cgroup.id)
    }

    /// Fills the target maps once the programs are loaded.
    pub fn arm(&self, ebpf: &mut Ebpf) -> Result<(), Error> {
        match self {
            Target::Command { cgroup, .. } => insert_cgroup(ebpf, cgroup.id, cgroup_state::AWAITING_EXEC),
            Target::Unit { cgroup, restart: Some(_), .. } => insert_cgroup(ebpf, cgroup.id, cgroup_state::AWAITING_EXEC),
            Target::Cgroup { cgroup } | Target::Unit { cgroup, .. } => insert_cgroup(ebpf, cgroup.id, cgroup_state::RECORDING),
            // No exec gate: the runtime execs more than the container's command; its set-up is
            // told apart by its processes (`classify::setup_reason`).
            Target::Container(container) => insert_cgroup(ebpf, container.cgroup().id, cgroup_state::RECORDING),
            Target::Pid { pid } => insert_pids(ebpf, &pid::tree(*pid)),
            Target::All => Ok(()),
        }
    }

    /// The host's cgroup names, with the target's own cgroup among them even once it is gone.
    pub fn cgroup_names(&self) -> CgroupNames {
        let mut names = CgroupNames::scan();
        if let Some(cgroup) = self.cgroup() {
            names.remember(cgroup);
        }
        names
    }

    /// One line for the profile and the terminal.
    pub fn describe(&self) -> String {
        match self {
            Target::Command { argv, run_as: None, .. } => format!("command: {}", argv.join(" ")),
            Target::Command { argv, run_as: Some(run_as), .. } => format!("command: {} (as {})", argv.join(" "), run_as.label),
            Target::Pid { pid } => format!("pid {pid} and its descendants"),
            Target::Cgroup { cgroup } => format!("cgroup {}", cgroup.relative),
            Target::Unit { name, cgroup, restart: None } => format!("unit {name} (cgroup {})", cgroup.relative),
            Target::Unit { name, cgroup, restart: Some(_) } => {
                format!("unit {name} (cgroup {}) from its restart", cgroup.relative)
            }
            Target::Container(container) => container.describe(),
            Target::All => "every task on the host".into(),
        }
    }

    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Command { .. } => TargetKind::Command,
            Target::Pid { .. } => TargetKind::Pid,
            Target::Cgroup { .. } => TargetKind::Cgroup,
            Target::Unit { .. } => TargetKind::Unit,
            Target::Container(_) => TargetKind::Container,
            Target::All => TargetKind::All,
        }
    }

    /// Starts what must start once the kernel side is armed: a unit recorded from its restart.
    /// (A spawned command is started by the session, which waits for it.)
    pub fn launch(&self) -> Result<(), Error> {
        match self {
            Target::Unit { restart: Some(restart), .. } => restart.start(),
            Target::Container(container) => container.launch(),
            _ => Ok(()),
        }
    }

    /// [`Target::finish`] when the returned guard is dropped: at the end of the caller's scope,
    /// on an early return and on a panic's unwinding alike, so nothing capdisc made outlives it.
    pub fn finish_on_drop(&self, quiet: bool) -> FinishOnDrop<'_> {
        FinishOnDrop { target: self, quiet }
    }

    /// Whether the target's processes start in the host's (initial) user namespace, so that a
    /// check against any other user namespace is against one the target made (or joined)
    /// itself, where the unit's bounding set does not limit it. Unknown answers no (every check
    /// then counts as today). A unit with `PrivateUsers=` starts in systemd's namespace for it,
    /// where the bounding set does apply: no.
    pub fn starts_in_host_userns(&self) -> bool {
        let capdisc_in_host = || pid::in_host_userns(std::process::id());
        match self {
            Target::Command { .. } => capdisc_in_host(),
            Target::Pid { pid } => pid::in_host_userns(*pid),
            Target::Cgroup { cgroup } => cgroup.processes().first().is_some_and(|pid| pid::in_host_userns(*pid)),
            Target::Unit { name, .. } => capdisc_in_host() && crate::systemd::property(name, "PrivateUsers") == "no",
            Target::Container(_) | Target::All => false,
        }
    }

    /// Cleans up after the session: removes capdisc's own cgroup, or restores a restarted
    /// unit (and removes the permissive drop-in). Problems are reported, never fatal: the
    /// recording is already safe.
    pub fn finish(&self, quiet: bool) {
        match self {
            Target::Command { cgroup, .. } => match cgroup.remove_if_owned() {
                Ok(0) => {}
                Ok(moved) if !quiet => console::note!(
                    "{moved} process(es) started by the command still run; moved out of {} (no longer recorded)",
                    cgroup.path.display()
                ),
                Ok(_) => {}
                Err(err) => console::warning!("{err}"),
            },
            Target::Unit { restart: Some(restart), .. } => match restart.finish() {
                Ok(done) if !quiet => console::say!("{done}"),
                Ok(_) => {}
                Err(err) => console::warning!("could not restore the unit: {err}"),
            },
            Target::Container(container) => {
                if let Err(err) = container.finish() {
                    console::warning!("{err}");
                }
            }
            _ => {}
        }
    }

    /// Whether the target is still there (for --pid: the process or a descendant lives).
    pub fn alive(&self, ebpf: &Ebpf) -> bool {
        match self {
            Target::Pid { pid } => pid::exists(*pid) || crate::probe::target_pids(ebpf).into_iter().any(pid::exists),
            Target::Cgroup { cgroup } | Target::Unit { cgroup, .. } => cgroup.path.is_dir(),
            Target::Container(container) => container.alive(),
            Target::Command { .. } | Target::All => true,
        }
    }

    /// The exit status of a container capdisc ran, once it stopped (None while it runs, and for
    /// every other target).
    pub fn container_exit_code(&self) -> Option<i32> {
        match self {
            Target::Container(ContainerTarget::Run(run)) => run.exit_code(),
            _ => None,
        }
    }

    /// Err when a container capdisc runs was started outside the cgroup capdisc records (see
    /// [`ContainerTarget::check_placed`]); checked on each of the session's ticks.
    pub fn check_placed(&self) -> Result<(), Error> {
        match self {
            Target::Container(container) => container.check_placed(),
            _ => Ok(()),
        }
    }

    /// The recording is ending: a container capdisc runs is asked to stop by its runtime.
    pub fn ask_to_stop(&self) {
        if let Target::Container(container) = self {
            container.ask_to_stop();
        }
    }

    /// A trial's spawned command ends with its trial: whatever it left running is killed.
    pub fn kill_leftovers(&self) {
        match self {
            Target::Command { cgroup, .. } => cgroup.kill_all(),
            Target::Container(container) => container.kill_leftovers(),
            _ => {}
        }
    }

    /// The service's main process: a unit's `MainPID`, or the oldest process of a spawned
    /// command's cgroup (the command itself while it runs).
    /// The container's name (a trial's own), or its id: `$CONTAINER` for an `--exercise`.
    pub fn container_name(&self) -> Option<String> {
        let Target::Container(container) = self else { return None };
        let (_, name, id) = container.identity();
        name.or(id)
    }

    pub fn main_pid(&self) -> Option<u32> {
        match self {
            Target::Unit { name, .. } => crate::systemd::property(name, "MainPID").parse().ok().filter(|pid| *pid != 0),
            Target::Command { cgroup, .. } => cgroup.processes().into_iter().min_by_key(|pid| pid::start_time(*pid).unwrap_or(u64::MAX)),
            Target::Pid { pid } => Some(*pid),
            Target::Container(container) => container.main_pid(),
            Target::Cgroup { .. } | Target::All => None,
        }
    }

    /// The processes of the target's cgroup now, but its main process: each by pid, start time
    /// and comm (a reload's old generation, see [`still_running`]).
    pub fn generation(&self) -> Vec<(u32, u64, String)> {
        let main = self.main_pid();
        let pids = match (self, self.cgroup()) {
            (Target::Container(_), _) | (_, None) => Vec::new(),
            (_, Some(cgroup)) => cgroup.processes(),
        };
        pids.into_iter()
            .filter(|pid| Some(*pid) != main)
            .filter_map(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned();
                Some((pid, pid::start_time(pid)?, comm))
            })
            .collect()
    }

    pub fn until_exit(&self) -> bool {
        matches!(self, Target::Command { until_exit: true, .. })
    }

    /// For a spawned command whose first process exited: how many processes it started still
    /// run in its cgroup (0 when none, or for other targets).
    pub fn remaining_processes(&self) -> usize {
        match self {
            Target::Command { cgroup, .. } if cgroup.populated() => cgroup.processes().len().max(1),
            Target::Container(ContainerTarget::Run(run)) if run.cgroup.populated() => 1,
            _ => 0,
        }
    }
}

/// Which of `generation` (see [`Target::generation`]) still run: the same pid and start time,
/// `main` (the main process now, a new one after a re-exec) aside.
pub fn still_running(generation: &[(u32, u64, String)], main: Option<u32>) -> Vec<&(u32, u64, String)> {
    generation.iter().filter(|(pid, start, _)| Some(*pid) != main && pid::start_time(*pid) == Some(*start)).collect()
}

/// Finishes its target when dropped (see [`Target::finish_on_drop`]).
pub struct FinishOnDrop<'a> {
    target: &'a Target,
    quiet: bool,
}

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        self.target.finish(self.quiet);
    }
}
