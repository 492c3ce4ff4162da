//! What a proof's trials run (`Subject`: a command or a unit, and the target each of its runs
//! records) how every trial is decided (`TrialOptions`), and the phases of a unit's life it
//! runs (`Phases`).
use std::time::Duration;

use crate::{
    container::{CapSetting, Container, RunCommand},
    error::Error,
    host::RunAs,
    probe::BackendChoice,
    profile::{phase_names, Phase},
    scope::TargetSpec,
    systemd::{all_caps, RuntimeChange, UnitFiles},
};

/// What trials run.
#[derive(Clone, Debug)]
pub enum Subject {
    Command {
        argv: Vec<String>,
        run_as: Option<RunAs>,
    },
    Unit {
        name: String,
    },
    /// A container, each run from its run command under the set (`--cap-drop=all
    /// --cap-add=...`) as a container of capdisc's own; `stands_in_for`: the running container
    /// the run command is that of, stopped while the trials run and started again after.
    Container {
        run: RunCommand,
        stands_in_for: Option<Container>,
    },
}

impl Subject {
    pub fn describe(&self) -> String {
        match self {
            Subject::Command { argv, run_as: None } => format!("command: {}", argv.join(" ")),
            Subject::Command { argv, run_as: Some(run_as) } => format!("command: {} (as {})", argv.join(" "), run_as.label),
            Subject::Unit { name } => format!("unit {name}"),
            Subject::Container { stands_in_for: Some(container), .. } => {
                format!("container {} ({})", container.name, container.runtime.describe())
            }
            Subject::Container { run, stands_in_for: None } => match run.runtime.user {
                Some(_) => format!("container run: {} ({})", run.describe(), run.runtime.describe()),
                None => format!("container run: {}", run.describe()),
            },
        }
    }

    /// What runs, in a verdict: "command", "container" or "unit".
    pub fn noun(&self) -> &'static str {
        match self {
            Subject::Command { .. } => "command",
            Subject::Unit { .. } => "unit",
            Subject::Container { .. } => "container",
        }
    }

    /// The recording that starts `minimize`: the command with every capability (as root, or as
    /// its `--user` with every capability ambient: the command's `--permissive`), the unit
    /// from its restart with its restrictions lifted (`record --unit --restart --permissive`),
    /// or the container run with `--cap-add=all`.
    pub fn recording_spec(&self) -> TargetSpec {
        match self {
            Subject::Command { argv, run_as } => {
                let run_as = run_as.clone().map(|run_as| RunAs { ambient: held_caps(), ..run_as });
                TargetSpec::Command { argv: argv.clone(), until_exit: false, run_as, bounding: None }
            }
            Subject::Unit { name } => TargetSpec::Unit { name: name.clone(), restart: Some(RuntimeChange::Permissive) },
            Subject::Container { run, .. } => TargetSpec::ContainerRun { run: run.clone(), caps: CapSetting::Every, trial: true },
        }
    }

    /// Refuses a unit whose main command runs with full privileges (`ExecStart=+...`): the
    /// trials' `CapabilityBoundingSet=` would not apply to it, and every set would "pass".
    /// A unit capdisc finds or reads no file of (a transient one) is not judged here.
    pub fn check_provable(&self) -> Result<(), Error> {
        let Subject::Unit { name } = self else { return Ok(()) };
        let Some(effective) = UnitFiles::find(name, "/".as_ref()).and_then(|files| crate::systemd::resolve(&files)).ok() else {
            return Ok(());
        };
        match effective.unconfinable_exec_start() {
            Some(line) => Err(Error::Usage(format!(
                "{name} has `{line}`: the `+` prefix runs its main command with full privileges, outside CapabilityBoundingSet=, so no trial can prove a set for it; drop the `+` (or prove the command itself with -- CMD)"
            ))),
            None => Ok(()),
        }
    }

    pub(super) fn trial_spec(&self, set: u64) -> TargetSpec {
        match self {
            Subject::Command { argv, run_as } => {
                let run_as = run_as.clone().map(|run_as| RunAs { ambient: set, ..run_as });
                TargetSpec::Command { argv: argv.clone(), until_exit: false, run_as, bounding: Some(set) }
            }
            Subject::Unit { name } => TargetSpec::Unit { name: name.clone(), restart: Some(RuntimeChange::Confine(set)) },
            Subject::Container { run, .. } => TargetSpec::ContainerRun { run: run.clone(), caps: CapSetting::Exactly(set), trial: true },
        }
    }
}

/// Every capability capdisc itself may pass on (its permitted set within its bounding set; in a
/// container that is less than every capability the kernel knows).
fn held_caps() -> u64 {
    crate::harden::status::read(std::process::id()).map(|own| own.permitted & own.bounding).unwrap_or_else(|_| all_caps())
}

#[derive(Clone, Debug)]
pub struct TrialOptions {
    pub backend: BackendChoice,
    pub check: Option<String>,
    /// Each phase of a trial (the start and its check, the reload and its check, the stop, the
    /// start again and its check) must be done within this.
    pub timeout: Duration,
    /// The unit's phases a trial runs (a command's trial is its run).
    pub phases: Phases,
    /// Commands that drive rare paths (`--exercise`), each run once after the start's check.
    pub exercise: Vec<String>,
    /// The status a passing command exits with (the recording's).
    pub expected_status: i32,
    pub quiet: bool,
}

/// The phases of a unit's life a trial runs after its start (`--phases`): the check after the
/// start always; then `systemctl reload` and the check again (when the unit can reload); then
/// `systemctl stop`, which must end with `Result=success` (nothing killed by systemd); then a
/// start again and the check once more. Commands have one phase: their run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phases {
    pub reload: bool,
    pub stop: bool,
}

impl Phases {
    /// Every phase (the default: each one the unit defines is run).
    pub const ALL: Phases = Phases { reload: true, stop: true };

    /// `start,reload,stop` (any order; `start` is always run).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut phases = Phases { reload: false, stop: false };
        for word in text.split(',').map(str::trim).filter(|word| !word.is_empty()) {
            match word {
                "start" => {}
                "reload" => phases.reload = true,
                "stop" => phases.stop = true,
                other => return Err(format!("unknown phase `{other}`; the phases are start, reload and stop")),
            }
        }
        Ok(phases)
    }

    /// The phases run, in order: the start, then reload, then stop and the start again.
    pub fn run(self) -> Vec<Phase> {
        let mut run = vec![Phase::Start];
        if self.reload {
            run.push(Phase::Reload);
        }
        if self.stop {
            run.extend([Phase::Stop, Phase::StartAgain]);
        }
        run
    }

    pub fn describe(self) -> String {
        phase_names(&self.run())
    }
}

#[cfg(test)]
mod tests {
    use super::Phases;

    #[test]
    fn phases_parse_in_any_order_and_start_always_runs() {
        assert_eq!(Phases::parse("start,reload,stop"), Ok(Phases::ALL));
        assert_eq!(Phases::parse("stop, start"), Ok(Phases { reload: false, stop: true }));
        assert_eq!(Phases::parse("start").map(Phases::describe), Ok("start".to_owned()));
        assert_eq!(Phases::ALL.describe(), "start, reload, stop, start again");
        assert!(Phases::parse("restart").expect_err("no such phase").contains("unknown phase `restart`"));
    }
}
