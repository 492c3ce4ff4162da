//! `verify`, `minimize` and `try` arguments: what to run (a unit, or a command and who it runs
//! as), the check that decides each trial, and its timeout.
use std::{path::PathBuf, time::Duration};

use clap::Args;

use crate::{
    container::{Container, RunCommand, USER_NOT_FOR_CONTAINERS},
    error::Error,
    host::RunAs,
    probe::BackendChoice,
    profile::Format,
    prove::{attempt, minimize, verify, MinimizeOptions, Phases, Subject, TrialOptions, TryOptions, VerifyOptions},
    systemd::unit_name,
};

#[derive(Args, Debug)]
pub struct SubjectArgs {
    /// A systemd unit: each trial runs it under a temporary runtime drop-in with the set, from a
    /// restart, and puts it back afterwards.
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,
    /// A podman container (name or id): each trial runs the command that created it (podman
    /// keeps it) under the set, as a container of capdisc's own, while this one is stopped; it
    /// is started again after the trials. (A run command after `--` works for docker too.)
    #[arg(long, value_name = "NAME", conflicts_with = "unit")]
    pub container: Option<String>,
    #[command(flatten)]
    pub runtime: super::target::RuntimeArgs,
    /// With -- CMD: run it as USER[:GROUP] (the set then reaches it as ambient capabilities).
    #[arg(long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// A command to run under each set (after `--`). A container run (`podman run ...`) runs as a
    /// container of capdisc's own with `--cap-drop=all --cap-add=...` the set.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TrialArgs {
    /// A command (run with `sh -c`) that must exit 0 while the target runs for a trial to pass,
    /// e.g. `curl -fsS http://127.0.0.1:443/`. Without it, a command must exit with its recorded
    /// status and a unit must stay active.
    #[arg(long, value_name = "CMD")]
    pub check: Option<String>,
    /// How long each phase of a trial may take (seconds, or 2m...; the check is retried every half second until
    /// then; one still running at the deadline is killed).
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = super::values::duration, allow_negative_numbers = true)]
    pub timeout: Duration,
    /// The phases of a unit's life each trial runs: start (with the check; always), reload
    /// (`systemctl reload`, when the unit can, then the check again), stop (`systemctl stop` must
    /// succeed without systemd killing anything; then a start again and the check once more).
    /// (Default: every phase the unit defines.)
    #[arg(long, value_name = "LIST", value_parser = parse_phases)]
    pub phases: Option<Phases>,
    /// A command (run with `sh -c`, `$MAINPID` set to the service's main process, `$CONTAINER` to
    /// a container's trial container) that drives a path the check does not, e.g. `kill -USR1
    /// $MAINPID`, `logrotate -f /etc/logrotate.d/app` or `podman exec $CONTAINER /healthcheck`:
    /// run once in the recording and in every trial after the check passes; it must exit 0 and the
    /// check must pass after it. Repeatable, run in order.
    #[arg(long, value_name = "CMD")]
    pub exercise: Vec<String>,
    /// How to watch cap_capable (see `record`).
    #[arg(long, default_value = "auto", value_parser = super::values::backend())]
    pub backend: BackendChoice,
    /// Print nothing but errors and the result.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_phases(text: &str) -> Result<Phases, String> {
    Phases::parse(text)
}

impl SubjectArgs {
    /// What trials run; `phases` beyond the start need a unit.
    fn subject_for(self, trial: &TrialArgs) -> Result<Subject, Error> {
        if self.unit.is_none() && trial.phases.is_some_and(|phases| phases.reload || phases.stop) {
            return Err(Error::Usage(
                "--phases reload,stop apply to --unit NAME; a command's trial is its run (leave --phases out)".into(),
            ));
        }
        self.subject()
    }

    fn subject(self) -> Result<Subject, Error> {
        if let Some(name) = &self.container {
            if !self.command.is_empty() || self.user.is_some() {
                return Err(Error::Usage("name one target: --container NAME, or its run command after `--`".into()));
            }
            let container = Container::inspect(name, self.runtime.runtime()?)?;
            let Some(words) = container.create_command.clone() else {
                return Err(Error::Usage(format!(
                    "{} keeps no record of the command that created container {name}; give its run command after `--` ({} run ...)",
                    container.runtime.program(),
                    container.runtime.program()
                )));
            };
            let run = RunCommand::parse(&words)?
                .ok_or_else(|| Error::Usage(format!("container {name} was not made by a run or create command (`{}`)", words.join(" "))))?;
            return Ok(Subject::Container { run: run.run_by(container.runtime), stands_in_for: Some(container) });
        }
        if let Some(run) = RunCommand::parse(&self.command)? {
            if self.user.is_some() {
                return Err(Error::Usage(USER_NOT_FOR_CONTAINERS.into()));
            }
            return Ok(Subject::Container { run: self.runtime.run_command(run)?, stands_in_for: None });
        }
        self.runtime.refuse_without_container()?;
        match (self.unit, self.command.is_empty()) {
            (Some(_), false) => Err(Error::Usage("name one target: --unit NAME or -- CMD ARGS".into())),
            (Some(unit), true) if self.user.is_some() => {
                Err(Error::Usage(format!("--user applies to a command; {unit} runs as its own User=")))
            }
            (Some(unit), true) => Ok(Subject::Unit { name: unit_name(&unit) }),
            (None, false) => {
                let run_as = self.user.as_deref().map(|user| RunAs::parse(user, &[])).transpose()?;
                Ok(Subject::Command { argv: self.command, run_as })
            }
            (None, true) => Err(Error::Usage("name what to run: --unit NAME, --container NAME or -- CMD ARGS".into())),
        }
    }
}

impl TrialArgs {
    /// The trials' options (a profile that lost checks aside: `verify` and `minimize` read one).
    fn options(&self) -> Result<TrialOptions, Error> {
        let timeout = self.timeout;
        if self.check.as_deref().is_some_and(|check| check.trim().is_empty()) {
            return Err(Error::Usage("--check is empty; give a command that exits 0 when the service works".into()));
        }
        let phases = self.phases.unwrap_or(Phases::ALL);
        if self.exercise.iter().any(|exercise| exercise.trim().is_empty()) {
            return Err(Error::Usage("--exercise is empty; give a command that drives a path of the service".into()));
        }
        Ok(TrialOptions {
            backend: self.backend,
            check: self.check.clone(),
            timeout,
            phases,
            exercise: self.exercise.clone(),
            expected_status: 0,
            quiet: self.quiet,
        })
    }
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The profile whose set to run under.
    pub profile: PathBuf,
    /// Use a profile that lost checks.
    #[arg(long)]
    pub allow_lossy: bool,
    #[command(flatten)]
    pub subject: SubjectArgs,
    #[command(flatten)]
    pub trial: TrialArgs,
}

impl VerifyArgs {
    pub async fn run(self) -> Result<i32, Error> {
        let trial = self.trial.options()?;
        verify(VerifyOptions {
            profile: self.profile,
            subject: self.subject.subject_for(&self.trial)?,
            trial,
            allow_lossy: self.allow_lossy,
        })
        .await
    }
}

#[derive(Args, Debug)]
pub struct MinimizeArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Start from this profile instead of recording the target first (with --grow: grow from
    /// the set it grants).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<PathBuf>,
    /// Where to write the profile with its proof (default: capdisc-profile.yaml).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the profile as JSON.
    #[arg(long)]
    pub json: bool,
    /// At most this many trials (default: one for the whole set and one per capability).
    #[arg(long, value_name = "N")]
    pub max_trials: Option<usize>,
    /// Install the proven drop-in (--unit only), as `apply` does; it may widen the unit only by
    /// capabilities a failed trial proved necessary.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: refuse, and undo, a drop-in after which `systemd-analyze security` scores
    /// the unit above N (0 is locked down, 10 exposed).
    #[arg(long, value_name = "N", value_parser = super::harden::parse_exposure, requires = "apply")]
    pub max_exposure: Option<f64>,
    /// Grow from the target's own set (a unit's current set; for a command the empty set, or
    /// --profile's) by adding what failed trials were denied, instead of shrinking from a
    /// permissive recording: the service never holds more than the final set. A unit needs a
    /// --check that fails when the service is broken; a command's exit status can decide.
    #[arg(long)]
    pub grow: bool,
    /// Then prove the sandboxing too. A unit: the settings systemd scores (ProtectSystem=,
    /// SystemCallFilter=, RestrictAddressFamilies=...) at the tightest values the recording
    /// allows, tried with the proven set through the unit's life; a setting a trial's evidence
    /// shows breaking the service is loosened or dropped. One drop-in with both. A container: a
    /// seccomp allow-list of the calls it made and a read-only root, tried as its runtime takes
    /// them (generate --format seccomp writes the profile).
    #[arg(long, conflicts_with = "grow")]
    pub sandbox: bool,
    /// Use a profile that lost checks.
    #[arg(long)]
    pub allow_lossy: bool,
    #[command(flatten)]
    pub trial: TrialArgs,
}

impl MinimizeArgs {
    pub async fn run(self) -> Result<i32, Error> {
        let trial = self.trial.options()?;
        let format = if self.json { Format::Json } else { Format::Yaml };
        let output = self.output.unwrap_or_else(|| PathBuf::from(if self.json { "capdisc-profile.json" } else { "capdisc-profile.yaml" }));
        if self.max_trials == Some(0) {
            return Err(Error::Usage("--max-trials must be at least 1".into()));
        }
        if self.grow && self.trial.check.is_none() && self.subject.unit.is_some() {
            return Err(Error::Usage("--grow --unit needs --check CMD: a check that fails while the service is broken".into()));
        }
        minimize(MinimizeOptions {
            grow: self.grow,
            subject: self.subject.subject_for(&self.trial)?,
            profile: self.profile,
            output,
            format,
            trial,
            max_trials: self.max_trials,
            apply: self.apply,
            allow_lossy: self.allow_lossy,
            max_exposure: self.max_exposure,
            sandbox: self.sandbox,
        })
        .await
    }
}

#[derive(Args, Debug)]
pub struct TryArgs {
    /// The proposed drop-in (a file with a [Service] section), e.g. lines from a hardening guide.
    pub dropin: PathBuf,
    /// The unit to try it on: it runs its whole life with the drop-in added as a temporary
    /// runtime drop-in, and is put back afterwards.
    #[arg(long, value_name = "NAME")]
    pub unit: String,
    /// At most this many trials (the drop-in, its fixes, a bisection of its settings).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_trials: usize,
    /// Install the drop-in when its trial passed (/etc/systemd/system/UNIT.d/, its file name kept)
    /// and check that systemd reads it.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: install it with the fixes its trials proved, when it failed as given.
    #[arg(long, requires = "apply")]
    pub with_fixes: bool,
    #[command(flatten)]
    pub trial: TrialArgs,
}

impl TryArgs {
    pub async fn run(self) -> Result<i32, Error> {
        if self.max_trials == 0 {
            return Err(Error::Usage("--max-trials must be at least 1".into()));
        }
        attempt(TryOptions {
            dropin: self.dropin,
            unit: self.unit,
            trial: self.trial.options()?,
            max_trials: self.max_trials,
            apply: self.apply,
            with_fixes: self.with_fixes,
        })
        .await
    }
}
