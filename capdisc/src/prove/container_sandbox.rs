//! `minimize --container NAME --sandbox`: after the capability set is proven, the confinement
//! the container's recording allows (`harden::container_sandbox`: a seccomp allow-list, a
//! read-only root file system) is tried with it, as the runtime takes it, all at once first.
//! With them, `no-new-privileges`, which makes runc and crun load the filter just before their
//! exec. When a trial fails, the kernel's evidence says what broke it: a call the filter refused
//! is added to the allow-list (the runtime's own calls under its filter are found so), a write
//! refused as read-only drops `read-only`, an exec that gained nothing drops
//! `no-new-privileges`; without evidence, one trial tells which part (the filter with
//! no-new-privileges, or the read-only root) breaks the container alone, and it is dropped.
//! What is kept passed the last trial.
use std::path::Path;

use super::{
    attempt::print_trial,
    interrupt,
    sandboxing::record,
    trial::{self, Subject, TrialOptions, TrialResult},
};
use crate::{
    container::{Engine, RunCommand},
    error::Error,
    generate::seccomp_profile,
    harden::{
        container_sandbox::{candidates, NO_NEW_PRIVILEGES, READ_ONLY, SECCOMP, TMPFS},
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
                        console::outln!("  seccomp: {} added to the allow-list (refused above)", refused.syscall);
                        seccomp.values.push(refused.syscall.clone());
                        seccomp.values.sort();
                        added.push((refused.syscall.clone(), format!("trial {count}: {refused}")));
                        progressed = true;
                    }
                }
                // An exec that gained nothing: no-new-privileges took what a set-id file gives.
                RefusedBy::Exec if has_any(&pending, &[NO_NEW_PRIVILEGES]) => {
                    console::outln!("  no-new-privileges: dropped (an exec gained nothing, above)");
                    let index = pending.iter().position(|candidate| candidate.key == NO_NEW_PRIVILEGES).unwrap_or(0);
                    let candidate = pending.remove(index);
                    dropped.push(setting(&candidate, Decision::Dropped, format!("trial {count} failed with it: {refused}")));
                    progressed = true;
                }
                RefusedBy::FileSystem
                    if refused.errno.as_deref() == Some("EROFS") && pending.iter().any(|candidate| candidate.key == READ_ONLY) =>
                {
                    console::outln!(
                        "  read-only: dropped ({} {} failed with EROFS)",
                        refused.syscall,
                        refused.path.as_deref().unwrap_or("")
                    );
                    drop_read_only(&mut pending, &mut dropped, format!("trial {count} failed with it: {refused}"));
                    progressed = true;
                }
                _ => {}
            }
        }
        if progressed {
            continue;
        }
        // No evidence: which part breaks it alone (the allow-list with no-new-privileges, which
        // decides when the runtime loads it; the read-only root with its tmpfs).
        let parts: Vec<&[&str]> =
            [&[SECCOMP, NO_NEW_PRIVILEGES][..], &[READ_ONLY, TMPFS][..]].into_iter().filter(|part| has_any(&pending, part)).collect();
        let (culprit, why): (&[&str], String) = match parts.as_slice() {
            [first, second] => {
                if count >= max_trials {
                    continue;
                }
                count += 1;
                let only: Vec<Candidate> = pending.iter().filter(|candidate| first.contains(&candidate.key)).cloned().collect();
                let alone = run_with(subject_with(run, stands_in_for, &only, &dir.path, count)?, set, options, count, &keys(&only)).await?;
                records.push(record(profile, &format!("sandboxing, only: {}", keys(&only)), &alone));
                if alone.passed {
                    (
                        second,
                        format!(
                            "trial {count} passed with only {}; with {} too it failed: {}",
                            keys(&only),
                            second.join(" "),
                            result.outcome
                        ),
                    )
                } else {
                    (first, format!("trial {count} failed with only {}: {}", keys(&only), alone.outcome))
                }
            }
            _ => (
                parts.first().copied().unwrap_or(&[]),
                format!("trial {count} failed with it and no evidence named a call, a path or an exec: {}", result.outcome),
            ),
        };
        let (gone, kept): (Vec<Candidate>, Vec<Candidate>) =
            pending.drain(..).partition(|candidate| culprit.is_empty() || culprit.contains(&candidate.key));
        pending = kept;
        for candidate in gone {
            dropped.push(setting(&candidate, Decision::Dropped, why.clone()));
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
            NO_NEW_PRIVILEGES => words.push("--security-opt=no-new-privileges".into()),
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
    print_trial(&format!("sandboxing trial {count}, {what}"), &result);
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

fn has_any(candidates: &[Candidate], keys: &[&str]) -> bool {
    candidates.iter().any(|candidate| keys.contains(&candidate.key))
}

fn setting(candidate: &Candidate, verdict: Decision, why: String) -> SandboxSetting {
    SandboxSetting { setting: candidate.key.to_owned(), values: candidate.values.clone(), verdict, why }
}

fn keys(candidates: &[Candidate]) -> String {
    candidates.iter().map(|candidate| candidate.key).collect::<Vec<_>>().join(" ")
}
