//! `minimize --sandbox`: after the capability set is proven, the sandboxing settings the
//! recording allows (`harden::sandboxing`) are tried with it through the unit's whole life, all
//! at once first. When a trial fails, the kernel's evidence names the setting that broke it
//! (`proposal::findings`): the line that allows what was refused is added when there is one
//! (`ReadWritePaths=/var/lib/x`, `SystemCallFilter=@clock`), or the setting is loosened when the
//! evidence names a looser value of it (`ProtectSystem=strict` to `full` for a relative path), or
//! it is dropped, and the trial repeats. Without evidence naming a setting, the settings are halved by trials until
//! the one that breaks the service alone is found, and it is dropped. What is kept passed the
//! last trial, so the whole drop-in is proven, each line with why it is there.
use super::{
    attempt::Trials,
    interrupt,
    proposal::Proposal,
    trial::{Subject, TrialOptions, TrialResult},
};
use crate::{
    error::Error,
    generate::{render_dropin, Recommendation},
    harden::sandboxing::{candidates, own_lines, Candidate, Inputs},
    profile::{Decision, Exposures, Profile, SandboxSetting, Trial},
    sandbox::{Settings, SyscallGroups},
    support::console,
    systemd,
};

/// What the sandboxing stage proved: the settings (kept and dropped) and its trials.
pub struct Proven {
    pub settings: Vec<SandboxSetting>,
    /// The unit's own sandboxing lines, as its files say (see `Verification::sandbox_unit`).
    pub unit_lines: Vec<String>,
    pub trials: Vec<Trial>,
    pub exposure: Option<Exposures>,
}

/// Tries the sandboxing the recording in `profile` (its proof sealed) allows on `unit`, at most
/// `max_trials` trials.
pub async fn prove(subject: &Subject, unit: &str, profile: &Profile, options: &TrialOptions, max_trials: usize) -> Result<Proven, Error> {
    let activity = complete_activity(profile)?;
    let settings = Settings::of_unit(unit)?;
    let groups = SyscallGroups::of_this_host();
    let files: Vec<std::path::PathBuf> =
        systemd::UnitFiles::find(unit, std::path::Path::new("/")).map(|files| files.all().cloned().collect()).unwrap_or_default();
    refuse_earlier_sandboxing(unit, &files, &groups)?;
    // The unit's own lines, as its files say, before any trial's runtime drop-in.
    let unit_lines = own_lines(&Settings::from_files(unit, &files, &groups));
    let kept_caps = profile.granted_names();
    let mut pending =
        candidates(&Inputs { activity, executables: &profile.executables, settings: &settings, groups: &groups, capabilities: &kept_caps });
    let others = unnamed_programs(profile, unit);
    if !others.is_empty() {
        console::note!(
            "{unit} also ran programs its unit's commands do not name ({}): they run under its sandbox too, proven only as far as the check and the exercises drove them",
            others.join(", ")
        );
    }
    let capabilities = capability_section(profile, unit);
    let ambient: Vec<String> = systemd::property(unit, "AmbientCapabilities").split_whitespace().map(str::to_ascii_uppercase).collect();
    let mut trials = Trials { subject, unit, options, count: 0 };
    let mut records = Vec::new();
    let mut dropped: Vec<SandboxSetting> = Vec::new();
    // Lines the evidence added, each with the candidate it lets work: they go with it.
    let mut added: Vec<(&'static str, SandboxSetting)> = Vec::new();
    console::say!(
        "sandboxing {unit}: {} setting(s) the recording allows: {}",
        pending.len(),
        pending.iter().map(|candidate| candidate.key).collect::<Vec<_>>().join(", ")
    );
    // Only what the last trial passed with is kept: a line added for a setting means nothing
    // alone (`SystemCallFilter=capset` without its allow-list would allow only that).
    let mut proven = false;
    while !pending.is_empty() {
        if trials.count >= max_trials {
            for candidate in pending.drain(..) {
                dropped.push(setting(&candidate, Decision::Dropped, "not proven: --max-trials reached".into()));
            }
            break;
        }
        let text = dropin(&capabilities, &pending, &lines_of(&added));
        let result = trials.run(&text, &format!("the proven set with {} sandboxing setting(s)", pending.len() + added.len())).await?;
        records.push(record(profile, &format!("sandboxing: {}", keys(&pending)), &result));
        if result.passed {
            proven = true;
            break;
        }
        let proposal = Proposal::parse(&text).map_err(Error::Runtime)?;
        let findings = proposal.findings(&result, &ambient);
        let mut progressed = false;
        let named: Vec<_> = findings.iter().filter(|finding| pending.iter().any(|candidate| candidate.key == finding.key)).collect();
        for finding in named {
            console::outln!("  {}: {}", finding.key, finding.evidence);
            let Some(index) = pending.iter().position(|candidate| candidate.key == finding.key) else { continue };
            let loosened = finding
                .fix
                .as_deref()
                .and_then(|fix| fix.split_once('='))
                .filter(|(key, value)| *key == finding.key && pending[index].values.len() == 1 && pending[index].values[0] != *value);
            match &finding.fix {
                // The evidence loosens the setting itself (`ProtectSystem=strict` to `full`).
                Some(_) if loosened.is_some() => {
                    let (_, value) = loosened.unwrap_or_default();
                    // Why it was first proposed no longer holds for the looser value.
                    let candidate = &mut pending[index];
                    candidate.why =
                        format!("loosened from {} after trial {} failed with it: {}", candidate.values[0], trials.count, finding.evidence);
                    candidate.values = vec![value.to_owned()];
                }
                Some(fix)
                    if !fix.starts_with(&format!("{}=", finding.key)) && !added.iter().any(|(_, line)| line.lines().contains(fix)) =>
                {
                    let (key, value) = fix.split_once('=').unwrap_or((fix, ""));
                    let line = SandboxSetting {
                        setting: key.to_owned(),
                        values: vec![value.to_owned()],
                        verdict: Decision::Kept,
                        why: format!("added after trial {}: {}", trials.count, finding.evidence),
                    };
                    added.push((pending[index].key, line));
                }
                _ => {
                    let candidate = pending.remove(index);
                    let why = format!("trial {} failed with it: {}", trials.count, finding.evidence);
                    drop_with_its_lines(&candidate, why, &mut added, &mut dropped);
                }
            }
            progressed = true;
        }
        if progressed {
            continue;
        }
        // No evidence names a setting: the one that breaks it, by halving.
        let culprit = bisect(&mut trials, &capabilities, &pending, &lines_of(&added), max_trials, profile, &mut records).await?;
        let index = pending.iter().position(|candidate| candidate.key == culprit.0).unwrap_or(0);
        let candidate = pending.remove(index);
        drop_with_its_lines(&candidate, culprit.1, &mut added, &mut dropped);
    }
    interrupt::check("after the sandboxing trials")?;
    if !proven {
        for (_, mut line) in added.drain(..) {
            line.verdict = Decision::Dropped;
            line.why = format!("not proven: no trial passed with the setting it was added for ({})", line.why);
            dropped.push(line);
        }
    }
    let added = lines_of(&added);
    let kept_text = dropin(&capabilities, &pending, &added);
    let mut settings: Vec<SandboxSetting> =
        pending.iter().map(|candidate| setting(candidate, Decision::Kept, candidate.why.clone())).collect();
    settings.extend(added);
    settings.extend(dropped);
    let exposure = match systemd::exposures_offline(unit, &[&capabilities, &kept_text]) {
        Ok((before, after)) if after.len() == 2 => Some(Exposures { before, capabilities: after[0], sandboxing: after[1] }),
        Ok(_) => None,
        Err(err) => {
            console::note!("no exposure score: {err}");
            None
        }
    };
    Ok(Proven { settings, unit_lines, trials: records, exposure })
}

/// What the service did, as the recording kept it whole; Err when it was not kept, or not all of it.
pub(super) fn complete_activity(profile: &Profile) -> Result<&crate::profile::Activity, Error> {
    let Some(activity) = &profile.activity else {
        return Err(Error::Usage(
            "the profile keeps no record of what the service did (its `activity`); --sandbox needs a recording made by this capdisc with the sandbox programs (record --sandbox, or minimize without --profile)".into(),
        ));
    };
    if !activity.complete() {
        return Err(Error::Untrusted(format!(
            "the recording of what the service did is incomplete ({} kind(s) of call, {} path(s) not kept): sandboxing derived from it may break the service; record again",
            activity.calls_lost, activity.paths_lost
        )));
    }
    Ok(activity)
}

/// Refuses a unit whose installed capdisc drop-in already sets sandboxing: its trials would run
/// with those lines, the settings they set would not be proposed (never loosened), and
/// `--apply` would then replace the drop-in without them.
fn refuse_earlier_sandboxing(unit: &str, files: &[std::path::PathBuf], groups: &SyscallGroups) -> Result<(), Error> {
    let Some(installed) = files.iter().find(|path| path.file_name().is_some_and(|name| name == systemd::DROPIN_NAME)) else {
        return Ok(());
    };
    let lines = own_lines(&Settings::from_files(unit, std::slice::from_ref(installed), groups));
    if lines.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} (capdisc's earlier drop-in) already sets sandboxing ({}): a new proof would be tried on top of it and then replace it; move it away (and systemctl daemon-reload), then run minimize --sandbox again",
        installed.display(),
        lines.join(" ")
    )))
}

/// The executables the service ran that none of its unit's commands names (a cron job's shell,
/// a login's): whatever they do runs under the unit's sandbox.
fn unnamed_programs(profile: &Profile, unit: &str) -> Vec<String> {
    let keys = ["ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"];
    // One `systemctl show` for all six.
    let shown = systemd::show(unit, &keys).unwrap_or_default();
    let named: Vec<String> = shown
        .values()
        .flat_map(|value| value.split("path=").skip(1).filter_map(|rest| rest.split([' ', ';']).next().map(str::to_owned)))
        .collect();
    profile.executables.iter().filter(|exe| !named.contains(exe)).cloned().collect()
}

/// The `[Service]` lines of the capability drop-in `apply` would install for the proven set.
fn capability_section(profile: &Profile, unit: &str) -> String {
    let recommendation = Recommendation::from_profile(profile, None, &[]);
    let text = render_dropin(profile, unit, &recommendation);
    let section = text.find("[Service]").map(|at| &text[at..]).unwrap_or("[Service]\n");
    section.lines().filter(|line| !line.starts_with('#')).map(|line| format!("{line}\n")).collect()
}

/// The capability section, then the candidates and the lines added for them.
fn dropin(capabilities: &str, candidates: &[Candidate], added: &[SandboxSetting]) -> String {
    let mut text = capabilities.to_owned();
    for line in candidates.iter().flat_map(Candidate::lines).chain(added.iter().flat_map(SandboxSetting::lines)) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Drops `candidate` with `why`, and the lines added for it.
fn drop_with_its_lines(
    candidate: &Candidate,
    why: String,
    added: &mut Vec<(&'static str, SandboxSetting)>,
    dropped: &mut Vec<SandboxSetting>,
) {
    dropped.push(setting(candidate, Decision::Dropped, why));
    let (its, others): (Vec<_>, Vec<_>) = added.drain(..).partition(|(key, _)| *key == candidate.key);
    *added = others;
    for (_, mut line) in its {
        line.verdict = Decision::Dropped;
        line.why = format!("dropped with {}: {}", candidate.key, line.why);
        dropped.push(line);
    }
}

fn lines_of(added: &[(&'static str, SandboxSetting)]) -> Vec<SandboxSetting> {
    added.iter().map(|(_, line)| line.clone()).collect()
}

fn setting(candidate: &Candidate, verdict: Decision, why: String) -> SandboxSetting {
    SandboxSetting { setting: candidate.key.to_owned(), values: candidate.values.clone(), verdict, why }
}

fn keys(candidates: &[Candidate]) -> String {
    candidates.iter().map(|candidate| candidate.key).collect::<Vec<_>>().join(" ")
}

pub(super) fn record(profile: &Profile, testing: &str, result: &TrialResult) -> Trial {
    Trial {
        set: profile.granted_names(),
        testing: testing.to_owned(),
        passed: result.passed,
        outcome: result.outcome.clone(),
        denials: result.denials.iter().map(ToString::to_string).collect(),
        refusals: result.refusals.iter().map(ToString::to_string).collect(),
    }
}

/// Halves the candidates while one half alone (with the lines added so far) fails: the setting
/// that breaks the service alone, with the failing trial as evidence. When both halves pass
/// alone (they break it together, or the failure did not repeat), the last candidate of the
/// failing whole is blamed: dropping it is the conservative side.
async fn bisect(
    trials: &mut Trials<'_>,
    capabilities: &str,
    pending: &[Candidate],
    added: &[SandboxSetting],
    max_trials: usize,
    profile: &Profile,
    records: &mut Vec<Trial>,
) -> Result<(&'static str, String), Error> {
    let mut suspects: Vec<Candidate> = pending.to_vec();
    let mut evidence = "the trial with all of them failed and no evidence named one; bisected".to_owned();
    while suspects.len() > 1 && trials.count < max_trials {
        let half = suspects.len() / 2;
        let (first, second) = (suspects[..half].to_vec(), suspects[half..].to_vec());
        let result = trials.run(&dropin(capabilities, &first, added), &format!("only {}", keys(&first))).await?;
        records.push(record(profile, &format!("sandboxing, only: {}", keys(&first)), &result));
        if !result.passed {
            evidence = format!("trial {} failed with only {}: {}", trials.count, keys(&first), result.outcome);
            suspects = first;
        } else {
            evidence = format!("trial {} passed with only {}; the rest fails", trials.count, keys(&first));
            suspects = second;
        }
    }
    let culprit = suspects.last().map(|candidate| candidate.key).unwrap_or("");
    Ok((culprit, evidence))
}
