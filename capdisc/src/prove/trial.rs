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
use std::cell::RefCell;

use crate::{
    error::Error,
    probe::MapLimits,
    profile::Profile,
    record::{capture, CaptureOptions},
    scope::{PhaseMarker, TargetSpec},
    systemd::{mask_text, show, Guardian},
};

pub use super::subject::{Subject, TrialOptions};
use super::{interrupt, phases};

/// Everything a proof's trials start is owned: from here until it is dropped, capdisc's death
/// (SIGKILL included) makes the guardian kill and remove every trial cgroup (`capdisc-PID-*`:
/// the workload's and the check's). Dropped when capdisc ends normally, having removed them itself.
pub struct OwnedTrials(Guardian);

impl OwnedTrials {
    pub fn start() -> Result<Self, Error> {
        interrupt::install()?;
        Ok(Self(Guardian::spawn_for_trials()?))
    }
}

impl Drop for OwnedTrials {
    fn drop(&mut self) {
        self.0.disarm();
    }
}

/// The guardian's work when capdisc `pid` died in a proof: every trial cgroup it made killed
/// and removed. What was done, or Err naming what could not be removed.
pub fn remove_trial_cgroups(pid: u32) -> Result<Option<String>, String> {
    match crate::scope::remove_trial_cgroups(pid) {
        (0, 0) => Ok(None),
        (removed, 0) => {
            Ok(Some(format!("capdisc (pid {pid}) ended in the middle of a proof: killed and removed {removed} trial cgroup(s)")))
        }
        (_, failed) => {
            Err(format!("could not remove {failed} trial cgroup(s) of capdisc pid {pid} (capdisc-{pid}-* under the cgroup v2 root)"))
        }
    }
}

pub struct TrialResult {
    pub passed: bool,
    /// "passed", or why it failed.
    pub outcome: String,
    /// What was denied during the trial, strongest evidence first.
    pub denials: Vec<Denial>,
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
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.as_deref().map(|path| format!(" {path}")).unwrap_or_default();
        let fallback = if self.fallback { "; a file-permission fallback" } else { "" };
        write!(f, "{} in {}{path} ({}; {} time(s), by {}{fallback})", self.cap, self.syscall, self.errno, self.count, self.comm)
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
        eprintln!("capdisc:   under {}: {verdict}", mask_text(set));
    }
    Ok((result, profile))
}

/// Records the subject as `spec` sets it up and decides the run as a trial: the profile and
/// whether it passed.
/// A stop signal during the run discards it: `Err(Interrupted)`, never a verdict.
pub async fn observe(subject: &Subject, spec: &TargetSpec, options: &TrialOptions) -> Result<(TrialResult, Profile), Error> {
    interrupt::check("before the run")?;
    let target = spec.resolve()?;
    let outcome: RefCell<Option<String>> = RefCell::new(None);
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
        };
        capture(&target, &capture_options, Some(watcher.as_mut())).await
        // The watcher ends here: a check still running is killed with its cgroup.
    };
    target.kill_leftovers();
    // The stop phase ended the recording with the unit's cgroup: the start again is judged, not
    // recorded (its cgroup is a new one).
    let passed_so_far = outcome.borrow().as_deref() == Some("passed");
    if let (Subject::Unit { name }, true, true) = (subject, passed_so_far, options.phases.stop) {
        if interrupt::received().is_none() {
            if let Err(why) = phases::start_again(subject, name, options).await {
                outcome.replace(Some(format!("the start after the stop failed: {why}")));
            }
        }
    }
    target.finish(true);
    interrupt::check("during the run")?;
    let (profile, ended) = captured.map_err(Error::spawn_as_operational)?;
    let denials = denials(&profile);
    let verdict = outcome.borrow().clone();
    let (passed, outcome) = match (verdict, &options.check, subject) {
        (Some(verdict), _, _) => (verdict == "passed", verdict),
        // A command without a check: its exit status decides.
        (None, None, Subject::Command { .. }) => match ended.exit_status {
            Some(status) if status == options.expected_status => (true, "passed".to_owned()),
            Some(status) => (false, format!("the command exited with {status}, not {}", options.expected_status)),
            None => (false, "the command did not exit".to_owned()),
        },
        (None, Some(_), Subject::Command { .. }) => {
            (false, format!("the command ended ({}) before the check passed", ended.exit_status.map(|s| s.to_string()).unwrap_or_default()))
        }
        (None, _, Subject::Unit { name }) => {
            // It ended before the watcher looked again: say how systemd left it.
            let state = show(name, &["ActiveState", "Result"]).unwrap_or_default();
            let (active, result) =
                (state.get("ActiveState").cloned().unwrap_or_default(), state.get("Result").cloned().unwrap_or_default());
            (false, format!("the unit stopped before the check passed ({active}, result {result})"))
        }
    };
    Ok((TrialResult { passed, outcome, denials }, profile))
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
            let errno = match fallback {
                Some(fallback) => fallback.errno.to_owned(),
                None => crate::classify::denial_errno(&syscall.name).to_owned(),
            };
            found.push(Denial {
                cap: cap.name.clone(),
                syscall: syscall.name.clone(),
                path,
                comm: cap.commands.first().map(|command| command.comm.clone()).unwrap_or_default(),
                count: syscall.denied,
                errno,
                fallback: fallback.is_some(),
                first_seen: cap.first_seen.clone(),
            });
        }
    }
    // Strongest evidence first: denials that are not fallbacks, then the earliest.
    found.sort_by(|a, b| (a.fallback, &a.first_seen).cmp(&(b.fallback, &b.first_seen)));
    found
}
