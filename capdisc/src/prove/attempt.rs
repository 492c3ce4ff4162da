//! `capdisc try DROPIN --unit NAME`: a hardening change tried before it lands. The unit runs its
//! whole life (the phases, `--check`, `--exercise`) with the proposed drop-in added as a
//! temporary runtime drop-in, guardian-protected like every trial. When it breaks, the kernel's
//! evidence (capabilities denied, system calls the sandbox refused) names the setting of the
//! drop-in that broke it and the line that fixes it, and the fix is tried; without conclusive
//! evidence the drop-in's settings are bisected by trials. A fix is printed as the fix only once
//! a trial with it passed. `--apply` installs the drop-in (with the proven fixes when
//! `--with-fixes`), as a file systemd reads back.
use std::path::{Path, PathBuf};

use super::{
    interrupt,
    proposal::{Finding, Proposal},
    trial::{self, OwnedTrials, Subject, TrialOptions, TrialResult},
};
use crate::{
    error::Error,
    kernel::privileges,
    scope::TargetSpec,
    support::{console, files::BeneathDir},
    systemd::{self, unit_name, RuntimeChange},
};

pub struct TryOptions {
    pub dropin: PathBuf,
    pub unit: String,
    pub trial: TrialOptions,
    /// At most this many trials.
    pub max_trials: usize,
    pub apply: bool,
    /// With `apply`: install the drop-in with the fixes its trials proved.
    pub with_fixes: bool,
}

/// The name `--apply` installs the drop-in under when its own name is not a `.conf`.
const INSTALLED_NAME: &str = "70-capdisc-try.conf";

pub async fn attempt(options: TryOptions) -> Result<i32, Error> {
    privileges::check_root_for("try")?;
    let unit = unit_name(&options.unit);
    let subject = Subject::Unit { name: unit.clone() };
    subject.check_provable()?;
    let proposal = Proposal::read(&options.dropin)?;
    let ambient: Vec<String> = systemd::property(&unit, "AmbientCapabilities").split_whitespace().map(str::to_ascii_uppercase).collect();
    let _owned = OwnedTrials::start(&subject)?;
    console::say!(
        "trying {} on {unit} (settings: {}; phases: {})",
        options.dropin.display(),
        proposal.keys().join(", "),
        options.trial.phases.describe()
    );
    let mut trials = Trials { subject: &subject, unit: &unit, options: &options.trial, count: 0 };

    // The drop-in as given, then with each round of fixes its evidence names.
    let mut fixes: Vec<String> = Vec::new();
    let mut first_findings: Vec<Finding> = Vec::new();
    let given = trials.run(&proposal.render(None, &[]), "the drop-in as given").await?;
    let mut last = given.passed;
    if !given.passed {
        let mut result = given;
        while trials.count < options.max_trials {
            let findings = proposal.findings(&result, &ambient);
            for finding in &findings {
                console::outln!("  {}: {}", finding.key, finding.evidence);
            }
            if first_findings.is_empty() {
                first_findings = findings.clone();
            }
            let new: Vec<String> = findings.iter().filter_map(|finding| finding.fix.clone()).filter(|fix| !fixes.contains(fix)).collect();
            if new.is_empty() {
                break;
            }
            fixes.extend(new);
            result = trials.run(&proposal.render(None, &fixes), &format!("with {}", fixes.join(", "))).await?;
            last = result.passed;
            if result.passed {
                break;
            }
        }
    }

    if last && fixes.is_empty() {
        console::outln!("try: passed: {unit} works through {} with {}", options.trial.phases.describe(), options.dropin.display());
        Exposure::measure(&unit, &proposal.render(None, &[])).print();
        return finish(&options, &unit, &proposal.render(None, &[]), 0);
    }
    if last {
        console::outln!("try: FAILED as given; {unit} works with these fixes (proven by trial {}):", trials.count);
        for fix in &fixes {
            console::outln!("  fix: {fix}");
        }
        Exposure::measure(&unit, &proposal.render(None, &fixes)).print();
        if options.with_fixes {
            return finish(&options, &unit, &proposal.render(None, &fixes), 0);
        }
        if options.apply {
            console::note!("nothing installed: the drop-in as given fails; --with-fixes installs it with the proven fixes");
        }
        return Ok(1);
    }
    // No fix the evidence named made it work: which settings break it, by trials.
    if first_findings.is_empty() || fixes.is_empty() {
        let culprits = bisect(&proposal, &mut trials, options.max_trials).await?;
        match culprits {
            Some(keys) => console::outln!(
                "try: FAILED: the setting(s) that break {unit}, by trials: {} ({})",
                keys.join(", "),
                keys.iter().flat_map(|key| proposal.lines_of(key)).collect::<Vec<_>>().join(" ")
            ),
            None => console::outln!("try: FAILED: no single half of the drop-in breaks {unit} alone; its settings break it together"),
        }
    } else {
        console::outln!("try: FAILED: it fails even with the fixes the evidence named ({}); none is proven", fixes.join(", "));
    }
    if options.apply {
        console::note!("nothing installed");
    }
    Ok(1)
}

/// The trials of one `try` (or of `minimize --sandbox`'s sandboxing), counted.
pub(super) struct Trials<'a> {
    pub subject: &'a Subject,
    pub unit: &'a str,
    pub options: &'a TrialOptions,
    pub count: usize,
}

impl Trials<'_> {
    /// One trial of the unit with `dropin`, described as `what`.
    pub async fn run(&mut self, dropin: &str, what: &str) -> Result<TrialResult, Error> {
        self.count += 1;
        let spec = TargetSpec::Unit { name: self.unit.to_owned(), restart: Some(RuntimeChange::Dropin(dropin.to_owned())) };
        let doing = format!("in trial {} ({what})", self.count);
        let (result, _) = trial::observe(self.subject, &spec, self.options).await.map_err(|err| interrupt::locate(err, &doing))?;
        print_trial(&format!("trial {}, {what}", self.count), &result);
        Ok(result)
    }
}

/// `LABEL: passed`, or `LABEL: FAILED: why` with what was denied and refused.
pub(super) fn print_trial(label: &str, result: &TrialResult) {
    let verdict = if result.passed { "passed".to_owned() } else { format!("FAILED: {}", result.outcome) };
    console::outln!("{label}: {verdict}");
    if !result.passed {
        for denial in &result.denials {
            console::outln!("  denied: {denial}");
        }
        for refusal in &result.refusals {
            console::outln!("  refused: {refusal}");
        }
    }
}

/// The smallest half of the drop-in's settings that still breaks the unit, halving while one
/// half alone fails; None when each half alone passes (the settings break it together).
async fn bisect(proposal: &Proposal, trials: &mut Trials<'_>, max_trials: usize) -> Result<Option<Vec<String>>, Error> {
    let mut candidates = proposal.keys();
    while candidates.len() > 1 && trials.count + 2 <= max_trials {
        let (first, second) = candidates.split_at(candidates.len() / 2);
        let (first, second) = (first.to_vec(), second.to_vec());
        if !trials.run(&proposal.render(Some(&first), &[]), &format!("only {}", first.join(", "))).await?.passed {
            candidates = first;
        } else if !trials.run(&proposal.render(Some(&second), &[]), &format!("only {}", second.join(", "))).await?.passed {
            candidates = second;
        } else {
            return Ok(None);
        }
    }
    Ok(Some(candidates))
}

/// systemd's score of the unit's files with and without the drop-in (`systemd-analyze security
/// --offline` over a copy of them, so both are read the same way).
struct Exposure(Result<(f64, Vec<f64>), Error>);

impl Exposure {
    fn measure(unit: &str, dropin: &str) -> Self {
        Self(systemd::exposures_offline(unit, &[dropin]))
    }

    fn print(&self) {
        match &self.0 {
            Ok((before, after)) => console::outln!(
                "exposure (systemd-analyze security --offline, lower is better): {before:.1} -> {:.1}",
                after.first().copied().unwrap_or(*before)
            ),
            Err(err) => console::note!("no exposure score: {err}"),
        }
    }
}

/// With `--apply`, installs `dropin` as a file of the unit (its name kept when it is a `.conf`)
/// and has systemd read it; returns `code`.
fn finish(options: &TryOptions, unit: &str, dropin: &str, code: i32) -> Result<i32, Error> {
    if !options.apply {
        return Ok(code);
    }
    // A stop signal after the trials (while systemd scored the unit) installs nothing.
    interrupt::check("before installing the drop-in")?;
    let name = options
        .dropin
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".conf") && !name.starts_with("zz-capdisc"))
        .unwrap_or_else(|| INSTALLED_NAME.to_owned());
    let relative = PathBuf::from(format!("etc/systemd/system/{unit}.d"));
    let dir = BeneathDir::open(Path::new("/"), &relative, true)?.ok_or_else(|| Error::Runtime("the drop-in directory vanished".into()))?;
    dir.refuse_symlink(&name)?;
    let text = format!("# Installed by `capdisc try --apply`: tried through {}.\n{dropin}", options.trial.phases.describe());
    dir.write_atomic(&name, text.as_bytes())?;
    systemd::systemctl(&["daemon-reload"])?;
    let shown = systemd::property(unit, "DropInPaths");
    let path = dir.path.join(&name);
    if !shown.split_whitespace().any(|read| Path::new(read) == path) {
        let _ = dir.remove(&name);
        let _ = systemd::systemctl(&["daemon-reload"]);
        return Err(Error::Runtime(format!("systemd did not read {} back (DropInPaths: {shown}); removed it", path.display())));
    }
    console::outln!("installed {} (systemd reads it); restart the unit to apply it: systemctl restart {unit}", path.display());
    Ok(code)
}
