//! `capdisc minimize TARGET`: proves a set by trials. Unless `--profile` is given it records the
//! target first (a unit from its restart with its restrictions lifted). Then, starting from
//! everything the recording granted, it removes one capability per trial: `conditional` ones
//! first (file-permission fallbacks, the likeliest to go), then `required` ones from the least
//! used. A capability is dropped when the trial without it passes, and kept when it fails. That
//! is one trial for the whole set plus one per capability (`--max-trials` bounds it); the last
//! passing trial ran exactly the final set, so the result is proven sufficient, and each kept
//! capability is proven necessary against the sets tried. The profile gets a `verification`
//! section that `generate` and `apply` follow.
use crate::support::console;
use std::path::PathBuf;

use super::{
    container_sandbox, interrupt, phases, sandboxing,
    trial::{self, Denial, OwnedTrials, Subject, TrialOptions, TrialResult},
};
use crate::{
    caps,
    classify::Class,
    coverage,
    error::Error,
    harden::apply::{apply, ApplyOptions},
    kernel::privileges,
    profile::{self, CapabilityUse, Decision, Format, Method, Profile, Trial, Verdict, Verification},
    support::clock::rfc3339,
    support::files,
    systemd::mask_text,
};

pub struct MinimizeOptions {
    pub subject: Subject,
    /// Grow from below (`--grow`) instead of shrinking from a recording.
    pub grow: bool,
    /// Start from this profile instead of recording.
    pub profile: Option<PathBuf>,
    pub output: PathBuf,
    pub format: Format,
    pub trial: TrialOptions,
    pub max_trials: Option<usize>,
    /// Install the proven drop-in (units only), as `apply` does.
    pub apply: bool,
    pub allow_lossy: bool,
    /// With `--apply`: refuse a drop-in that scores above this (`apply --max-exposure`).
    pub max_exposure: Option<f64>,
    /// Then prove the sandboxing settings the recording allows with the proven set (units only).
    pub sandbox: bool,
}

pub async fn minimize(options: MinimizeOptions) -> Result<i32, Error> {
    privileges::check_root_for("minimize")?;
    options.subject.check_provable()?;
    files::check_writable(&options.output)?;
    if options.apply && !matches!(options.subject, Subject::Unit { .. }) {
        return Err(Error::Usage("--apply installs a drop-in: it needs --unit NAME".into()));
    }
    if options.sandbox && (matches!(options.subject, Subject::Command { .. }) || options.grow) {
        return Err(Error::Usage(
            "--sandbox proves a unit's sandboxing settings or a container's seccomp profile and read-only root: it needs --unit NAME, --container NAME or a container run command, without --grow".into(),
        ));
    }
    let say = |line: &str| {
        if !options.trial.quiet {
            console::say!("{line}");
        }
    };
    let _owned = OwnedTrials::start(&options.subject)?;
    if options.grow {
        return grow(&options).await;
    }
    let mut profile = match &options.profile {
        Some(path) => profile::read(path)?,
        None => {
            say(&format!("recording {} first", options.subject.describe()));
            let (recorded, profile) = trial::observe(&options.subject, &options.subject.recording_spec(), &options.trial)
                .await
                .map_err(|err| interrupt::locate(err, "while recording, before the first trial"))?;
            if !recorded.passed {
                return Err(Error::Refused(format!(
                    "the recording run itself failed ({}); minimize needs a run that works",
                    recorded.outcome
                )));
            }
            // A start capdisc did not see would prove an empty set that works only because the
            // service was already running.
            if let (Subject::Unit { name }, true) = (&options.subject, profile.executables.is_empty()) {
                return Err(Error::Refused(format!(
                    "the recording saw no program of {name} start (nothing was exec'd in its cgroup while capdisc watched), so it proves nothing; was it started by something else meanwhile? Stop what starts it and run minimize again"
                )));
            }
            profile
        }
    };
    profile.require_complete("the profile", options.allow_lossy)?;
    profile.verification = None;
    let mut trial_options = options.trial.clone();
    trial_options.expected_status = profile.exit_status.unwrap_or(0);
    let candidates = candidates(&profile);
    let mut current = profile.grant_mask();
    let limit = options.max_trials.unwrap_or(candidates.len() + 1).max(1);
    let total = (candidates.len() + 1).min(limit);
    let mut trials = Vec::new();
    let mut verdicts = Vec::new();

    say(&format!("trial 1 of {total}: the whole recorded set {}", mask_text(current)));
    let whole = trial::run(&options.subject, current, &trial_options)
        .await
        .map_err(|err| interrupt::locate(err, &format!("in trial 1 of {total}")))?;
    trials.push(record_trial(current, "the whole recorded set".into(), &whole));
    if !whole.passed {
        let denied: Vec<String> = whole.denials.iter().map(ToString::to_string).collect();
        return Err(Error::Refused(format!(
            "the recorded set itself fails ({}{}); record the service doing what the check needs, then minimize",
            whole.outcome,
            if denied.is_empty() { String::new() } else { format!("; denied: {}", denied.join(", ")) }
        )));
    }
    // What the last passing trial was denied: a failing trial's denial is evidence only when it
    // is new, or more frequent.
    let mut passing_denials = whole.denials.clone();
    for cap in candidates {
        let bit = 1u64 << cap.number.min(63);
        if trials.len() >= limit {
            verdicts.push(Verdict { name: cap.name.clone(), verdict: Decision::Kept, evidence: "not tried (--max-trials reached)".into() });
            continue;
        }
        let trying = current & !bit;
        let index = trials.len() + 1;
        say(&format!("trial {index} of {total}: without {} ({})", cap.name, cap.class.name()));
        let result = trial::run(&options.subject, trying, &trial_options)
            .await
            .map_err(|err| interrupt::locate(err, &format!("in trial {index} of {total}")))?;
        trials.push(record_trial(trying, format!("without {}", cap.name), &result));
        verdicts.push(if result.passed {
            current = trying;
            passing_denials = result.denials.clone();
            Verdict { name: cap.name.clone(), verdict: Decision::Dropped, evidence: dropped_evidence(cap, &result) }
        } else {
            Verdict { name: cap.name.clone(), verdict: Decision::Kept, evidence: kept_evidence(cap, &result, &passing_denials) }
        });
    }
    seal(&mut profile, proof(Method::Shrink, &options, verdicts, trials));
    let limit = options.max_trials.unwrap_or(SANDBOX_TRIALS).max(1);
    if let (true, Subject::Unit { name }) = (options.sandbox, &options.subject) {
        let proven = sandboxing::prove(&options.subject, &crate::systemd::unit_name(name), &profile, &trial_options, limit)
            .await
            .map_err(|err| interrupt::locate(err, "in the sandboxing trials"))?;
        if let Some(mut verification) = profile.verification.take() {
            verification.sandbox = proven.settings;
            verification.sandbox_unit = proven.unit_lines;
            verification.sandbox_trials = proven.trials;
            verification.exposure = proven.exposure;
            seal(&mut profile, verification);
        }
    }
    if let (true, Subject::Container { .. }) = (options.sandbox, &options.subject) {
        let proven = container_sandbox::prove(&options.subject, &profile, &trial_options, limit)
            .await
            .map_err(|err| interrupt::locate(err, "in the sandboxing trials"))?;
        if let Some(mut verification) = profile.verification.take() {
            verification.container_sandbox = proven.settings;
            verification.sandbox_trials = proven.trials;
            seal(&mut profile, verification);
        }
    }
    finish(&options, &profile)
}

/// `--sandbox`'s trials at most, unless `--max-trials` says otherwise.
const SANDBOX_TRIALS: usize = 12;

/// Puts the proof into the profile, bound to its recording by its digest, with the coverage
/// hints of its recording (read once, here: trials need none; a `--profile` keeps its own).
fn seal(profile: &mut Profile, mut verification: Verification) {
    if profile.coverage.is_empty() {
        profile.coverage = coverage::of(profile);
    }
    verification.digest = profile::digest(profile, &verification);
    profile.verification = Some(verification);
}

/// The `verification` section of a proof that ended with a passing trial.
fn proof(method: Method, options: &MinimizeOptions, verdicts: Vec<Verdict>, trials: Vec<Trial>) -> Verification {
    Verification {
        method,
        target: options.subject.describe(),
        check: options.trial.check.clone(),
        phases: phases::phases_run(&options.subject, options.trial.phases),
        exercise: options.trial.exercise.clone(),
        date: rfc3339(std::time::SystemTime::now()),
        passed: true,
        capabilities: verdicts,
        trials,
        sandbox: Vec::new(),
        sandbox_trials: Vec::new(),
        container_sandbox: Vec::new(),
        sandbox_unit: Vec::new(),
        exposure: None,
        digest: String::new(),
    }
}

/// Writes the proven profile, prints the proof, and installs it with `--apply`.
fn finish(options: &MinimizeOptions, profile: &Profile) -> Result<i32, Error> {
    interrupt::check("after the last trial, before the proof was written")?;
    files::write_atomic(&options.output, options.format.render(profile)?.as_bytes())?;
    console::out!("{}", summary(profile));
    console::say!("profile with its proof written to {}", options.output.display());
    if let (true, Subject::Unit { name }) = (options.apply, &options.subject) {
        return apply(&ApplyOptions {
            profile: options.output.clone(),
            unit: name.clone(),
            root: None,
            dry_run: false,
            no_reload: false,
            user: None,
            target: None,
            allow_lossy: options.allow_lossy,
            allow_widen: false,
            widen_proven: true,
            allow_dangerous: Vec::new(),
            max_exposure: options.max_exposure,
        });
    }
    Ok(0)
}

/// `minimize --grow`: from the target's own set (a unit's, as systemd grants it now; the empty set
/// or `--profile`'s for a command), run a trial; when it fails, add the strongest denied
/// capability (not a file-permission fallback, the earliest denied; fallbacks only when nothing
/// else is left) and run again; stop when a trial passes. The service never holds a capability
/// outside the final set.
async fn grow(options: &MinimizeOptions) -> Result<i32, Error> {
    let say = |line: &str| {
        if !options.trial.quiet {
            console::say!("{line}");
        }
    };
    let (mut set, start_source) = match (&options.subject, &options.profile) {
        (_, Some(path)) => {
            let start = profile::read(path)?;
            start.require_complete(&path.display().to_string(), options.allow_lossy)?;
            (start.grant_mask(), format!("the set {} grants", path.display()))
        }
        (Subject::Unit { name }, None) => {
            let view = crate::systemd::live_view(name)?;
            let usable = if view.non_root() { view.ambient & view.bounding } else { view.bounding };
            (usable, format!("the set systemd grants {name} now"))
        }
        (Subject::Command { .. } | Subject::Container { .. }, None) => (0, "the empty set".to_owned()),
    };
    let limit = options.max_trials.unwrap_or(16).max(1);
    let mut trials = Vec::new();
    let mut verdicts: Vec<Verdict> = caps::decode_mask(set)
        .into_iter()
        .map(|number| Verdict {
            name: caps::name(number),
            verdict: Decision::Kept,
            evidence: format!("in {start_source}, where growing starts"),
        })
        .collect();
    say(&format!("growing {} from {start_source}: {}", options.subject.describe(), mask_text(set)));
    let mut trial_options = options.trial.clone();
    trial_options.expected_status = 0;
    loop {
        say(&format!("trial {} (at most {limit}): under {}", trials.len() + 1, mask_text(set)));
        let index = trials.len() + 1;
        let (result, recording) = trial::run_recorded(&options.subject, set, &trial_options)
            .await
            .map_err(|err| interrupt::locate(err, &format!("in trial {index} (at most {limit})")))?;
        trials.push(record_trial(set, format!("the set after {} addition(s)", trials.len()), &result));
        if result.passed {
            let mut profile = recording;
            seal(&mut profile, proof(Method::Grow, options, verdicts, trials));
            return finish(options, &profile);
        }
        let missing = |fallback: bool| {
            result
                .denials
                .iter()
                // A denial whose call succeeded anyway failed nothing: adding it fixes nothing.
                .find(|denial| {
                    !denial.failed_nothing
                        && denial.fallback == fallback
                        && caps::number(&denial.cap).is_some_and(|n| set & (1 << n.min(63)) == 0)
                })
        };
        let Some(denial) = missing(false).or_else(|| missing(true)) else {
            return Err(grow_failure(
                &trials,
                &format!(
                    "trial {} failed ({}) with no denied capability to add: {}",
                    trials.len(),
                    result.outcome,
                    result.no_denial_explained()
                ),
            ));
        };
        if trials.len() >= limit {
            return Err(grow_failure(&trials, &format!("--max-trials {limit} reached; the next step would add {}", denial.cap)));
        }
        let number = caps::number(&denial.cap).unwrap_or(63);
        set |= 1 << number.min(63);
        say(&format!("  adding {} (denied {denial})", denial.cap));
        verdicts.push(Verdict {
            name: denial.cap.clone(),
            verdict: Decision::Kept,
            evidence: format!("the check failed without it: trial {} failed ({}); denied {denial}", trials.len(), result.outcome),
        });
    }
}

/// A grow that could not reach a working set: the trials and their denials, then the reason.
fn grow_failure(trials: &[Trial], why: &str) -> Error {
    for (index, trial) in trials.iter().enumerate() {
        console::say!("trial {} under [{}]: {}", index + 1, trial.set.join(" "), trial.outcome);
        for denial in &trial.denials {
            console::say!("  denied {denial}");
        }
    }
    Error::Refused(format!("minimize --grow stopped: {why}"))
}

/// The capabilities to try removing, in order: conditional first, then required from the least
/// used (the likeliest to be incidental).
fn candidates(profile: &Profile) -> Vec<&CapabilityUse> {
    let mut granted: Vec<&CapabilityUse> = profile.capabilities.iter().filter(|cap| cap.class.granted()).collect();
    granted.sort_by_key(|cap| (cap.class != Class::Conditional, cap.audited().0, cap.number));
    granted
}

fn record_trial(set: u64, testing: String, result: &TrialResult) -> Trial {
    Trial {
        set: caps::decode_mask(set).into_iter().map(caps::name).collect(),
        testing,
        passed: result.passed,
        outcome: result.outcome.clone(),
        denials: result.denials.iter().map(ToString::to_string).collect(),
        refusals: result.refusals.iter().map(ToString::to_string).collect(),
    }
}

/// Why a capability is kept: the failure, and the denial that explains it: one the passing
/// trial did not have (or had fewer times), its own first. A denial the passing trial shows as
/// well explains nothing.
fn kept_evidence(cap: &CapabilityUse, result: &TrialResult, passing: &[Denial]) -> String {
    let new = |denial: &&Denial| {
        if denial.failed_nothing {
            return false;
        }
        let before = passing.iter().find(|seen| seen.cap == denial.cap && seen.syscall == denial.syscall && seen.path == denial.path);
        before.is_none_or(|seen| seen.count < denial.count)
    };
    let explaining: Vec<&Denial> = result.denials.iter().filter(new).collect();
    let denial = explaining.iter().find(|denial| denial.cap == cap.name).or(explaining.first());
    match denial {
        Some(denial) => format!("the check failed without it: {}; denied {denial}", result.outcome),
        None if result.denials.is_empty() => format!("the check failed without it: {}; no denial explains the failure", result.outcome),
        None => format!(
            "the check failed without it: {}; no denial explains the failure (the passing trial was denied the same)",
            result.outcome
        ),
    }
}

fn dropped_evidence(cap: &CapabilityUse, result: &TrialResult) -> String {
    match result.denials.iter().find(|denial| denial.cap == cap.name) {
        Some(denial) => format!(
            "not needed: the check passed while it was denied {} time(s) in {}{}",
            denial.count,
            denial.syscall,
            denial.path.as_deref().map(|path| format!(" {path}")).unwrap_or_default()
        ),
        None => "not needed: the check passed without it".into(),
    }
}

/// The proof, for the terminal.
fn summary(profile: &Profile) -> String {
    let mut out = String::new();
    let Some(proof) = &profile.verification else { return out };
    for verdict in &proof.capabilities {
        out.push_str(&format!("{:<24} {:<8} {}\n", verdict.name, verdict.verdict, verdict.evidence));
    }
    let kept = profile.granted_names();
    out.push_str(&format!(
        "minimize: proven set: {} ({} trial(s))\n",
        if kept.is_empty() { "(none)".to_owned() } else { kept.join(" ") },
        proof.trials.len()
    ));
    if !proof.sandbox_trials.is_empty() {
        out.push_str(&format!("minimize: {} sandboxing trial(s) after them\n", proof.sandbox_trials.len()));
    }
    for setting in &proof.sandbox {
        out.push_str(&format!("{:<8} {:<48} {}\n", setting.verdict, setting.lines().join(" "), setting.why));
    }
    for setting in &proof.container_sandbox {
        let what = match setting.setting.as_str() {
            crate::profile::confinement::SECCOMP => format!("seccomp: {} call(s) allowed", setting.values.len()),
            key => format!("{key}: {}", setting.values.join(" ")),
        };
        out.push_str(&format!("{:<8} {:<48} {}\n", setting.verdict, what, setting.why));
    }
    for settings in [&proof.sandbox, &proof.container_sandbox].into_iter().filter(|settings| !settings.is_empty()) {
        let kept = settings.iter().filter(|setting| setting.verdict == Decision::Kept).count();
        out.push_str(&format!("minimize: proven sandboxing: {kept} of {} setting(s) kept\n", settings.len()));
    }
    if let Some(exposure) = &proof.exposure {
        out.push_str(&format!(
            "exposure (systemd-analyze security --offline, lower is better): {:.1} before, {:.1} with the capabilities, {:.1} with the sandboxing\n",
            exposure.before, exposure.capabilities, exposure.sandboxing
        ));
    }
    out
}
