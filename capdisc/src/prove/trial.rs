//! One trial: run the target under exactly one set of capabilities while recording it, decide
//! whether it still works, and name what was denied. A spawned command runs with its bounding
//! set cut to the set (and, run as a user, the set as ambient); a unit runs under a temporary
//! runtime drop-in, restarted, and is put back afterwards (guardian-protected, as every unit
//! change). It passes when:
//! - a command without `--check`: it exits with the status the recording saw;
//! - with `--check CMD`: the check exits 0 while the target runs (retried every half second
//!   until `--timeout`); a unit must also be `active` then;
//! - a unit without `--check`: it reaches `active` and stays so for two seconds;
//! - a unit: and each phase of its life it runs after the start passes (`phases`).
use crate::support::console;
use std::cell::RefCell;

use crate::{
    container::{Container, Runtime},
    error::Error,
    guardian::Guardian,
    probe::MapLimits,
    probe::PhaseMarker,
    profile::{Profile, SandboxRefusal},
    record::{capture, CaptureOptions},
    scope::TargetSpec,
    systemd::{mask_text, show},
};

pub use super::subject::{Subject, TrialOptions};
use super::{
    interrupt,
    phases::{self, Outcome},
};

/// Everything a proof's trials start is owned: from here until it is dropped, capdisc's death
/// (SIGKILL included) makes the guardian kill and remove every trial cgroup (`capdisc-PID-*`:
/// the workload's and the check's) and every trial container (named the same), and start again
/// the container the trials stood in for. Dropped when capdisc ends normally, having removed
/// them itself (and started that container again here).
pub struct OwnedTrials {
    guardian: Guardian,
    stand_in: Option<Container>,
}

impl OwnedTrials {
    /// For a container subject that stands in for a running container: that container is
    /// stopped now (the trials' containers take its place: its ports, its files).
    pub fn start(subject: &Subject) -> Result<Self, Error> {
        interrupt::install()?;
        let stand_in = match subject {
            Subject::Container { stands_in_for: Some(container), .. } if container.running => Some(container.clone()),
            _ => None,
        };
        let start_again = stand_in.as_ref().map(|container| format!("{}:{}", container.runtime.token(), container.id));
        let rootless = match subject {
            Subject::Container { run, .. } => run.runtime.user.is_some().then(|| run.runtime.token()),
            _ => None,
        };
        let guardian = Guardian::spawn_for_trials(rootless.as_deref(), start_again.as_deref())?;
        let owned = Self { guardian, stand_in };
        if let Some(container) = &owned.stand_in {
            console::say!("stopping container {} while the trials run in its place (started again after them)", container.name);
            container.runtime.run(&["stop", &container.id])?;
        }
        Ok(owned)
    }
}

impl Drop for OwnedTrials {
    fn drop(&mut self) {
        if let Some(container) = &self.stand_in {
            match container.runtime.run(&["start", &container.id]) {
                Ok(_) => console::say!("container {} started again", container.name),
                Err(err) => console::warning!("could not start container {} again: {err}", container.name),
            }
        }
        self.guardian.disarm();
    }
}

/// The guardian's work when capdisc died: for a proof's capdisc `trials_of`, every trial
/// container (root's, and `trial_runtime`'s: a rootless user's podman) and cgroup it made killed
/// and removed; then `start_again` (`RUNTIME:ID`, a container the trials stood in for or a
/// recording stopped) started. What was done, or Err naming what could not be undone.
pub fn undo_trials(trials_of: Option<u32>, trial_runtime: Option<&str>, start_again: Option<&str>) -> Result<Option<String>, String> {
    let mut said = Vec::new();
    let mut failed = false;
    if let Some(pid) = trials_of {
        let rootless = trial_runtime.and_then(|text| Runtime::parse(text).ok());
        said.extend(crate::container::remove_trial_containers(pid, rootless));
        match crate::host::remove_trial_cgroups(pid) {
            (0, 0) => {}
            (removed, 0) => {
                said.push(format!("capdisc (pid {pid}) ended in the middle of a proof: killed and removed {removed} trial cgroup(s)"))
            }
            (_, not_removed) => {
                failed = true;
                said.push(format!(
                    "could not remove {not_removed} trial cgroup(s) of capdisc pid {pid} (capdisc-{pid}-* under the cgroup v2 root)"
                ));
            }
        }
    }
    if let Some((runtime, id)) = start_again.and_then(|text| text.split_once(':')) {
        let started = Runtime::parse(runtime).map_err(Error::Usage).and_then(|runtime| runtime.run(&["start", id]));
        match started {
            Ok(_) => said.push(format!("started container {id} again (capdisc had stopped it)")),
            Err(err) => {
                failed = true;
                said.push(format!("could not start container {id} again: {err}"));
            }
        }
    }
    match (failed, said.is_empty()) {
        (true, _) => Err(said.join("; ")),
        (false, true) => Ok(None),
        (false, false) => Ok(Some(said.join("; "))),
    }
}

pub struct TrialResult {
    pub passed: bool,
    /// "passed", or why it failed.
    pub outcome: String,
    /// What was denied during the trial, strongest evidence first.
    pub denials: Vec<Denial>,
    /// What the unit's sandbox refused during the trial (seccomp, read-only or hidden paths).
    pub refusals: Vec<SandboxRefusal>,
}

#[derive(Clone, Debug)]
pub struct Denial {
    pub cap: String,
    pub syscall: String,
    pub path: Option<String>,
    pub comm: String,
    pub count: u64,
    pub errno: String,
    /// A file-permission fallback: the mode bits refused first; rarely the cause of a failure.
    pub fallback: bool,
    /// When the capability was first checked (RFC 3339): the earliest denial is the likeliest
    /// cause of a failure.
    pub first_seen: String,
    /// The system call succeeded every time it was seen return after this denial: the refusal
    /// failed nothing (`capset`'s probe of CAP_SETPCAP), so it explains no failure.
    pub failed_nothing: bool,
}

impl TrialResult {
    /// Why a failed trial with no denied capability failed, as far as the kernel saw: the
    /// sandbox's refusals, or that nothing was refused (the check itself, a missing file...).
    pub fn no_denial_explained(&self) -> String {
        match self.refusals.first() {
            Some(refusal) => format!("not a capability problem: refused by the sandbox: {refusal}"),
            None => {
                "not a capability problem, and the sandbox refused nothing the kernel could see (the check itself, a missing file, an LSM?)"
                    .to_owned()
            }
        }
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.as_deref().map(|path| format!(" {path}")).unwrap_or_default();
        let fallback = if self.fallback { "; a file-permission fallback" } else { "" };
        let result = if self.failed_nothing { format!("{} succeeded anyway", self.syscall) } else { self.errno.clone() };
        write!(f, "{} in {}{path} ({result}; {} time(s), by {}{fallback})", self.cap, self.syscall, self.count, self.comm)
    }
}

/// Runs the subject under exactly `set`.
pub async fn run(subject: &Subject, set: u64, options: &TrialOptions) -> Result<TrialResult, Error> {
    Ok(run_recorded(subject, set, options).await?.0)
}

/// [`run`], with the trial's own recording.
pub async fn run_recorded(subject: &Subject, set: u64, options: &TrialOptions) -> Result<(TrialResult, Profile), Error> {
    let (result, profile) = observe(subject, &subject.trial_spec(set), options).await?;
    if !options.quiet {
        let verdict = if result.passed { "passed".to_owned() } else { format!("FAILED: {}", result.outcome) };
        console::say!("  under {}: {verdict}", mask_text(set));
    }
    Ok((result, profile))
}

/// Records the subject as `spec` sets it up and decides the run as a trial: the profile and
/// whether it passed.
/// A stop signal during the run discards it: `Err(Interrupted)`, never a verdict.
pub async fn observe(subject: &Subject, spec: &TargetSpec, options: &TrialOptions) -> Result<(TrialResult, Profile), Error> {
    interrupt::check("before the run")?;
    let target = spec.resolve()?;
    let outcome: RefCell<Option<Outcome>> = RefCell::new(None);
    let marker = PhaseMarker::default();
    let captured = {
        let watcher = phases::watch(subject, options, &target, &marker, &outcome);
        let mut watcher = std::pin::pin!(watcher);
        let capture_options = CaptureOptions {
            backend: options.backend,
            quiet: true,
            limits: MapLimits::default(),
            duration: None,
            phases: Some(marker.clone()),
            syscall_outcomes: true,
            // A failing trial names what the sandbox refused, not only what was denied.
            sandbox: true,
        };
        capture(&target, &capture_options, Some(watcher.as_mut())).await
        // The watcher ends here: a check still running is killed with its cgroup.
    };
    // A container's own exit status (its client's says nothing when it ran detached), read
    // before the container is removed.
    let container_exit = target.container_exit_code();
    target.kill_leftovers();
    // The stop phase ended the recording with the unit's cgroup: the start again is judged, not
    // recorded (its cgroup is a new one).
    let passed_so_far = outcome.borrow().as_ref() == Some(&Outcome::Passed);
    if let (Subject::Unit { name }, true, true) = (subject, passed_so_far, options.phases.stop) {
        if interrupt::received().is_none() {
            if let Err(why) = phases::start_again(subject, name, options).await {
                outcome.replace(Some(Outcome::Failed(format!("the start after the stop failed: {why}"))));
            }
        }
    }
    target.finish(true);
    interrupt::check("during the run")?;
    let (profile, ended) = captured.map_err(Error::spawn_as_operational)?;
    let denials = denials(&profile);
    let verdict = outcome.borrow().clone();
    let (passed, outcome) = match (verdict, &options.check, subject) {
        (Some(Outcome::Passed), _, _) => (true, "passed".to_owned()),
        (Some(Outcome::Failed(why)), _, _) => (false, why),
        // A command without a check: its exit status decides.
        (None, None, Subject::Command { .. } | Subject::Container { .. }) => match container_exit.or(ended.exit_status) {
            Some(status) if status == options.expected_status => (true, "passed".to_owned()),
            Some(status) => (false, format!("the {} exited with {status}, not {}", subject.noun(), options.expected_status)),
            None => (false, format!("the {} did not exit", subject.noun())),
        },
        (None, Some(_), Subject::Command { .. } | Subject::Container { .. }) => (
            false,
            format!(
                "the {} ended ({}) before the check passed",
                subject.noun(),
                container_exit.or(ended.exit_status).map(|s| s.to_string()).unwrap_or_default()
            ),
        ),
        (None, _, Subject::Unit { name }) => {
            // It ended before the watcher looked again: say how systemd left it.
            let state = show(name, &["ActiveState", "Result"]).unwrap_or_default();
            let (active, result) =
                (state.get("ActiveState").cloned().unwrap_or_default(), state.get("Result").cloned().unwrap_or_default());
            (false, format!("the unit stopped before the check passed ({active}, result {result})"))
        }
    };
    let refusals = profile.refusals.clone();
    Ok((TrialResult { passed, outcome, denials, refusals }, profile))
}

/// Audited denials of a trial's recording.
fn denials(profile: &Profile) -> Vec<Denial> {
    let mut found = Vec::new();
    for cap in &profile.capabilities {
        let (_, denied_audited) = cap.audited();
        if denied_audited == 0 {
            continue;
        }
        for syscall in cap.syscalls.iter().filter(|syscall| syscall.denied > 0) {
            let path = cap.call_sites.iter().find_map(|site| site.path.clone()).or_else(|| cap.paths.first().cloned());
            let fallback = cap.call_sites.iter().find_map(|site| crate::classify::fallback_site(&site.frames));
            // What the call returned when the trial saw it; else what it returns when refused.
            let errno = match (&syscall.returned_errno, fallback) {
                (Some(returned), _) => returned.clone(),
                (None, Some(fallback)) => fallback.errno.to_owned(),
                (None, None) => crate::classify::denial_errno(&syscall.name).to_owned(),
            };
            found.push(Denial {
                cap: cap.name.clone(),
                syscall: syscall.name.clone(),
                path,
                // The service's own command, not the set-up's (a runtime, a service manager's child).
                comm: cap
                    .commands
                    .iter()
                    .find(|command| crate::classify::setup_reason(&command.comm).is_none())
                    .or(cap.commands.first())
                    .map(|command| command.comm.clone())
                    .unwrap_or_default(),
                count: syscall.denied,
                errno,
                fallback: fallback.is_some(),
                first_seen: cap.first_seen.clone(),
                failed_nothing: syscall.returned_ok > 0 && syscall.returned_failed == 0,
            });
        }
    }
    // Strongest evidence first: denials whose call failed, then those that are not fallbacks,
    // then the earliest.
    found.sort_by(|a, b| (a.failed_nothing, a.fallback, &a.first_seen).cmp(&(b.failed_nothing, b.fallback, &b.first_seen)));
    found
}
