//! The phases of a unit's life a trial runs (`--phases`): the start and its check; `systemctl
//! reload` and the check again; `systemctl stop`, which must succeed without systemd killing
//! anything; a start again and the check once more. A command's trial has one phase, its run.
use std::{
    cell::RefCell,
    time::{Duration, Instant},
};

use super::{
    check::{run_check, CheckFailed, CHECK_ATTEMPT_LIMIT},
    interrupt,
    subject::{Phases, Subject, TrialOptions},
};
use crate::{
    probe::PhaseMarker,
    profile::Phase,
    scope::{still_running, Target},
    systemd::{property, show, systemctl_within},
};
use capdisc_common::phase;

/// How the watcher of a trial's phases decided it (`phases::watch`); a trial it did not decide
/// (a command without a check) is decided by how the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Why it failed.
    Failed(String),
}

/// Completes when the trial is decided, with the verdict in `outcome`: the start and its check,
/// then for a unit each phase it runs (reload and the check again, stop). A command without a
/// check is decided by its exit, not here.
/// `target` is what runs (its main process is `$MAINPID` for `--exercise`); `marker` tells the
/// kernel programs which phase the checks from then on belong to.
pub async fn watch(
    subject: &Subject,
    options: &TrialOptions,
    target: &Target,
    marker: &PhaseMarker,
    outcome: &RefCell<Option<Outcome>>,
) -> &'static str {
    // A command's check is not tried again once the command and all it started have ended.
    let ended = || matches!(subject, Subject::Command { .. }) && target.remaining_processes() == 0;
    let decided = async {
        started(subject, options, &ended).await?;
        // The rare paths the check does not drive: each once, each must succeed, then the check.
        for exercise in &options.exercise {
            marker.enter(phase::EXERCISE);
            run_check(exercise, options.timeout, target.main_pid(), target.container_name())
                .await
                .map_err(|why| format!("the exercise `{exercise}` failed ({why})"))?;
            started(subject, options, &ended).await.map_err(|why| format!("after the exercise `{exercise}`: {why}"))?;
        }
        let Subject::Unit { name } = subject else { return Ok("the check passed") };
        if options.phases.reload && can_reload(name) {
            let before = target.main_pid().map(|pid| pid.to_string()).unwrap_or_default();
            let old_generation = target.generation();
            marker.enter(phase::RELOAD);
            let reloaded = Instant::now();
            systemctl_within(&["reload", name], options.timeout).await.map_err(|why| format!("reload failed: {why}"))?;
            started(subject, options, &ended).await.map_err(|why| format!("after the reload (main pid was {before}): {why}"))?;
            generation_replaced(target, &old_generation, reloaded + options.timeout).await?;
        }
        if options.phases.stop {
            marker.enter(phase::STOP);
            systemctl_within(&["stop", name], options.timeout).await.map_err(|why| format!("stop failed: {why}"))?;
            let result = property(name, "Result");
            if result != "success" {
                let why = if result == "timeout" { "systemd had to kill what did not stop in time" } else { "the stop did not succeed" };
                return Err(format!("stop failed: {why} (Result={result})"));
            }
        }
        Ok("the unit's phases passed")
    };
    match decided.await {
        Ok(why) => {
            outcome.replace(Some(Outcome::Passed));
            why
        }
        Err(why) => {
            outcome.replace(Some(Outcome::Failed(why)));
            "a phase failed"
        }
    }
}

/// After a reload: waits, until `deadline`, for every process of the generation before it (the
/// main process aside) to be gone, as a master's old workers must; Err names those left.
async fn generation_replaced(target: &Target, old: &[(u32, u64, String)], deadline: Instant) -> Result<(), String> {
    // The main process after the reload (it may be a new one), asked once.
    let main = target.main_pid();
    loop {
        let left = still_running(old, main);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline || interrupt::received().is_some() {
            let names: Vec<String> = left.iter().map(|(pid, _, comm)| format!("{pid} ({comm})")).collect();
            return Err(format!(
                "reload failed: {} process(es) of the generation before it still run: {}; when they are meant to outlive a reload, leave it out with --phases start,stop",
                left.len(),
                names.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The phases a trial of `subject` runs, by name, for the proof: a command's run is its start.
pub fn phases_run(subject: &Subject, phases: Phases) -> Vec<Phase> {
    match subject {
        Subject::Command { .. } | Subject::Container { .. } => vec![Phase::Start],
        Subject::Unit { name } => Phases { reload: phases.reload && can_reload(name), ..phases }.run(),
    }
}

/// Whether systemd can reload the unit (it has `ExecReload=`).
fn can_reload(unit: &str) -> bool {
    property(unit, "CanReload") == "yes"
}

/// The unit started again after its stop phase (under the trial's drop-in still), and its check.
pub async fn start_again(subject: &Subject, unit: &str, options: &TrialOptions) -> Result<(), String> {
    systemctl_within(&["start", "--no-block", unit], options.timeout).await?;
    started(subject, options, &|| false).await
}

/// Waits for the start to be decided, within `--timeout`: the check passed (a unit must be
/// `active` then), or without a check a unit active for 2 s; Err says why not. A command without
/// a check never completes here: its exit decides. A check still running at the deadline is
/// killed, failing the phase. A stop signal ends it at once (outside a session, in the start
/// again, nothing else would notice): the proof then reports the interruption, never this.
/// `ended`: the command is gone, so a check that has not passed yet never will.
async fn started(subject: &Subject, options: &TrialOptions, ended: &dyn Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + options.timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    let secs = options.timeout.as_secs_f64();
    let mut active_since: Option<Instant> = None;
    let mut last_check_error = String::new();
    loop {
        tokio::time::sleep(left().min(Duration::from_millis(500))).await;
        if interrupt::received().is_some() {
            return Err("interrupted".into());
        }
        if let Subject::Unit { name } = subject {
            let state = show(name, &["ActiveState", "SubState"]).unwrap_or_default();
            let (active, sub) = (state.get("ActiveState").cloned().unwrap_or_default(), state.get("SubState").cloned().unwrap_or_default());
            if active == "failed" || sub == "auto-restart" {
                return Err(format!("the unit failed ({active}/{sub})"));
            }
            if active == "active" {
                active_since.get_or_insert_with(Instant::now);
            } else {
                active_since = None;
            }
            if options.check.is_none() && active_since.is_some_and(|since| since.elapsed() >= Duration::from_secs(2)) {
                return Ok(());
            }
        }
        if let Some(check) = &options.check {
            if ended() {
                return Err(format!("the {} ended before the check `{check}` passed", subject.noun()));
            }
            let ready = !matches!(subject, Subject::Unit { .. }) || active_since.is_some();
            if ready && !left().is_zero() {
                match run_check(check, left().min(CHECK_ATTEMPT_LIMIT), None, None).await {
                    Ok(()) => return Ok(()),
                    // An attempt cut by the deadline after others failed: the failures say more.
                    Err(CheckFailed::TimedOut(_)) if left().is_zero() && last_check_error.is_empty() => {
                        return Err(format!("the check `{check}` was still running at the --timeout of {secs} s (killed)"));
                    }
                    Err(CheckFailed::TimedOut(_)) if left().is_zero() => {}
                    Err(error) => last_check_error = error.to_string(),
                }
            }
        }
        if left().is_zero() {
            return Err(match (&options.check, last_check_error.is_empty(), subject) {
                (Some(check), false, _) => format!("the check `{check}` did not pass within {secs} s ({last_check_error})"),
                (Some(check), true, _) => format!("the check `{check}` never ran: the target was not ready within {secs} s"),
                (None, _, Subject::Command { .. } | Subject::Container { .. }) => format!("the command did not exit within {secs} s"),
                (None, _, Subject::Unit { .. }) => format!("not active for 2 s within {secs} s"),
            });
        }
    }
}
