//! `capdisc verify PROFILE TARGET`: runs the target under exactly the set the profile grants
//! and says whether it still works. Exit 0 when it passes, 1 when it fails (naming what was
//! denied), 2 on an error, 128+N when a signal N interrupted it (no verdict).
use crate::support::console;
use std::path::PathBuf;

use super::{
    interrupt,
    trial::{self, OwnedTrials, Subject, TrialOptions},
};
use crate::{error::Error, kernel::privileges, profile, systemd::mask_text};

pub struct VerifyOptions {
    pub profile: PathBuf,
    pub subject: Subject,
    pub trial: TrialOptions,
    pub allow_lossy: bool,
}

pub async fn verify(options: VerifyOptions) -> Result<i32, Error> {
    privileges::check_root_for("verify")?;
    options.subject.check_provable()?;
    let _owned = OwnedTrials::start(&options.subject)?;
    let source = options.profile.display().to_string();
    let profile = profile::read(&options.profile)?;
    profile.require_complete(&source, options.allow_lossy)?;
    let set = profile.grant_mask();
    let mut trial_options = options.trial.clone();
    trial_options.expected_status = profile.exit_status.unwrap_or(0);
    if !trial_options.quiet {
        let phases = match options.subject {
            Subject::Unit { .. } => format!("; phases: {}", trial_options.phases.describe()),
            Subject::Command { .. } | Subject::Container { .. } => String::new(),
        };
        console::say!("verifying {} under {} (the set {source} grants{phases})", options.subject.describe(), mask_text(set));
    }
    let result = trial::run(&options.subject, set, &trial_options).await.map_err(|err| interrupt::locate(err, "in trial 1 of 1"))?;
    if result.passed {
        console::outln!("verify: passed: {} works under {}", options.subject.describe(), mask_text(set));
        return Ok(0);
    }
    console::outln!("verify: FAILED: {}", result.outcome);
    if result.denials.is_empty() && result.refusals.is_empty() {
        console::outln!("  no capability was denied: {}", result.no_denial_explained());
    }
    for denial in &result.denials {
        console::outln!("  denied: {denial}");
    }
    for refusal in &result.refusals {
        console::outln!("  refused: {refusal}");
    }
    Ok(1)
}
