//! `minimize --container NAME --sandbox`: after the capability set is proven, the confinement
//! the container's recording allows (`harden::container_sandbox`: a seccomp allow-list, a
//! read-only root file system) is tried with it, as the runtime takes it, all at once first.
//! When a trial fails, the kernel's evidence says what broke it: a call the filter refused is
//! added to the allow-list (the runtime's own calls under its filter are found so), a write
//! refused as read-only drops `read-only`; without evidence, one trial tells which of the two
//! breaks the container alone, and it is dropped. What is kept passed the last trial.
use std::path::Path;

use super::{
    interrupt,
    trial::{self, Subject, TrialOptions, TrialResult},
};
use crate::{
    container::{Engine, RunCommand},
    error::Error,
    generate::seccomp_profile,
    harden::{
        container_sandbox::{candidates, READ_ONLY, SECCOMP, TMPFS},
        sandboxing::Candidate,
    },
    profile::{Decision, Profile, RefusedBy, SandboxSetting, Trial},
    support::{console, files::PrivateDir},
};

/// What the stage proved: the settings (kept and dropped) and its trials.
pub struct Proven {
    pub settings: Vec<SandboxSetting>,
    pub trials: Vec<Trial>,
}

/// Tries the confinement the recording in `profile` (its capability proof sealed) allows on the
/// container `subject` runs, at most `max_trials` trials.
pub async fn prove(subject: &Subject, profile: &Profile, options: &TrialOptions, max_trials: usize) -> Result<Proven, Error> {
    let Subject::Container { run, stands_in_for } = subject else {
        return Err(Error::Usage("a container's sandboxing needs --container NAME or a container run command".into()));
    };
    let activity = super::sandboxing::complete_activity(profile)?;
    let (mut pending, notes) = candidates(activity, run);
    for note in &notes {
        console::note!("{note}");
    }
    let set = crate::caps::mask_of(profile.granted_names().iter().map(String::as_str));
    let dir = PrivateDir::make("seccomp", 0o755)?;
    let mut records = Vec::new();
    let mut dropped: Vec<SandboxSetting> = Vec::new();
    // Calls the evidence added to the allow-list, each with the refusal that named it.
    let mut added: Vec<(String, String)> = Vec::new();
    let mut count = 0;
    let mut proven = false;
    console::say!(
        "sandboxing the container: {}",
        if pending.is_empty() { "nothing the run does not already confine".to_owned() } else { keys(&pending) }
    );
    while !pending.is_empty() {
        if count >= max_trials {
            for candidate in pending.drain(..) {
                dropped.push(setting(&candidate, Decision::Dropped, "not proven: --max-trials reached".into()));
            }
            break;
        }
        count += 1;
        let result = run_with(subject_with(run, stands_in_for, &pending, &dir.path, count)?, set, options, count, &keys(&pending)).await?;
        records.push(record(profile, &format!("sandboxing: {}", keys(&pending)), &result));
        if result.passed {
            proven = true;
            break;
        }
        let mut progressed = false;
        for refused in &result.refusals {
            match refused.by {
                RefusedBy::Seccomp => {
                    let Some(seccomp) = pending.iter_mut().find(|candidate| candidate.key == SECCOMP) else { continue };
                    if !seccomp.values.contains(&refused.syscall) {
                        console::outln!("  seccomp: {refused}");
                        seccomp.values.push(refused.syscall.clone());
                        seccomp.values.sort();
                        added.push((refused.syscall.clone(), format!("trial {count}: {refused}")));
                        progressed = true;
                    }
                }
                RefusedBy::FileSystem
                    if refused.errno.as_deref() == Some("EROFS") && pending.iter().any(|candidate| candidate.key == READ_ONLY) =>
                {
                    console::outln!("  read-only: {refused}");
                    drop_read_only(&mut pending, &mut dropped, format!("trial {count} failed with it: {refused}"));
                    progressed = true;
                }
                _ => {}
            }
        }
        if progressed {
            continue;
        }
        // No evidence: which of the two breaks it alone.
        let culprit =
            if pending.iter().any(|candidate| candidate.key == SECCOMP) && pending.iter().any(|candidate| candidate.key == READ_ONLY) {
                if count >= max_trials {
                    continue;
                }
                count += 1;
                let only: Vec<Candidate> = pending.iter().filter(|candidate| candidate.key == SECCOMP).cloned().collect();
                let alone = run_with(subject_with(run, stands_in_for, &only, &dir.path, count)?, set, options, count, SECCOMP).await?;
                records.push(record(profile, "sandboxing, only: seccomp", &alone));
                if alone.passed {
                    (READ_ONLY, format!("trial {count} passed with only seccomp; with read-only too it failed: {}", result.outcome))
                } else {
                    (SECCOMP, format!("trial {count} failed with only seccomp: {}", alone.outcome))
                }
            } else {
                (pending[0].key, format!("trial {count} failed with it and no evidence named a call or a path: {}", result.outcome))
            };
        match culprit {
            (READ_ONLY, why) => drop_read_only(&mut pending, &mut dropped, why),
            (key, why) => {
                let index = pending.iter().position(|candidate| candidate.key == key).unwrap_or(0);
                let candidate = pending.remove(index);
                dropped.push(setting(&candidate, Decision::Dropped, why));
            }
        }
    }
    interrupt::check("after the sandboxing trials")?;
    if !proven {
        for candidate in pending.drain(..) {
            dropped.push(setting(&candidate, Decision::Dropped, "not proven: no trial passed with it".into()));
        }
    }
    let mut settings: Vec<SandboxSetting> = pending
        .iter()
        .map(|candidate| {
            let mut why = candidate.why.clone();
            if candidate.key == SECCOMP && !added.is_empty() {
                let evidence: Vec<String> = added.iter().map(|(call, refusal)| format!("{call} ({refusal})")).collect();
                why.push_str(&format!("; added after a failing trial's evidence: {}", evidence.join("; ")));
            }
            setting(candidate, Decision::Kept, why)
        })
        .collect();
    settings.extend(dropped);
    Ok(Proven { settings, trials: records })
}

/// The container's run with the candidates' options; the allow-list written for trial `count`.
fn subject_with(
    run: &RunCommand,
    stands_in_for: &Option<crate::container::Container>,
    candidates: &[Candidate],
    dir: &Path,
    count: usize,
) -> Result<Subject, Error> {
    let mut words = Vec::new();
    for candidate in candidates {
        match candidate.key {
            SECCOMP => {
                let file = dir.join(format!("trial-{count}.json"));
                std::fs::write(&file, seccomp_profile(&candidate.values))
                    .map_err(|err| Error::io(format!("cannot write {}", file.display()), err))?;
                words.push(format!("--security-opt=seccomp={}", file.display()));
            }
            READ_ONLY => words.push("--read-only".into()),
            // podman mounts them itself in a read-only container; docker is told.
            TMPFS if run.runtime.engine == Engine::Docker => words.extend(candidate.values.iter().map(|dir| format!("--tmpfs={dir}"))),
            _ => {}
        }
    }
    Ok(Subject::Container { run: run.with_options(&words), stands_in_for: stands_in_for.clone() })
}

async fn run_with(subject: Subject, set: u64, options: &TrialOptions, count: usize, what: &str) -> Result<TrialResult, Error> {
    let doing = format!("in sandboxing trial {count} ({what})");
    let result = trial::run(&subject, set, options).await.map_err(|err| interrupt::locate(err, &doing))?;
    let verdict = if result.passed { "passed".to_owned() } else { format!("FAILED: {}", result.outcome) };
    console::outln!("sandboxing trial {count}, {what}: {verdict}");
    if !result.passed {
        for refusal in &result.refusals {
            console::outln!("  refused: {refusal}");
        }
    }
    Ok(result)
}

/// Drops `read-only` with `why`, and the tmpfs directories that go with it.
fn drop_read_only(pending: &mut Vec<Candidate>, dropped: &mut Vec<SandboxSetting>, why: String) {
    let (gone, kept): (Vec<Candidate>, Vec<Candidate>) =
        pending.drain(..).partition(|candidate| candidate.key == READ_ONLY || candidate.key == TMPFS);
    *pending = kept;
    for candidate in gone {
        let why = if candidate.key == TMPFS { format!("dropped with read-only: {why}") } else { why.clone() };
        dropped.push(setting(&candidate, Decision::Dropped, why));
    }
}

fn setting(candidate: &Candidate, verdict: Decision, why: String) -> SandboxSetting {
    SandboxSetting { setting: candidate.key.to_owned(), values: candidate.values.clone(), verdict, why }
}

fn keys(candidates: &[Candidate]) -> String {
    candidates.iter().map(|candidate| candidate.key).collect::<Vec<_>>().join(" ")
}

fn record(profile: &Profile, testing: &str, result: &TrialResult) -> Trial {
    super::sandboxing::record(profile, testing, result)
}
