//! A proof is checked when read: a `verification` section must be one `minimize` could have
//! written for this very recording, or the profile is refused (exit 2) naming the field. Never a
//! silently smaller or wider set: `generate` and `apply` grant what a proof keeps, so an edited
//! verdict would otherwise change what a service may do.
use sha2::{Digest, Sha256};

use super::model::{Profile, Verification};
use crate::{caps, error::Error};

/// The prefix of [`Verification::digest`].
pub const PROOF_DIGEST: &str = "sha256:";

/// The digest that binds `verification` to `profile`'s recording: the recorded capabilities and
/// the section itself (without its digest), as canonical JSON.
pub fn digest(profile: &Profile, verification: &Verification) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&profile.capabilities).unwrap_or_default());
    hasher.update([0]);
    let unsigned = Verification { digest: String::new(), ..verification.clone() };
    hasher.update(serde_json::to_vec(&unsigned).unwrap_or_default());
    let hex: String = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{PROOF_DIGEST}{hex}")
}

/// Refuses a profile whose proof is not what `minimize` writes for its recording.
pub fn check(profile: &Profile, source: &str) -> Result<(), Error> {
    let Some(proof) = &profile.verification else { return Ok(()) };
    let refuse = |field: &str, what: String| {
        Error::Untrusted(format!(
            "{source}: `verification.{field}` {what}; a proof is what `capdisc minimize` wrote, never edited: prove the set again with `capdisc minimize`"
        ))
    };
    for (index, verdict) in proof.capabilities.iter().enumerate() {
        let field = format!("capabilities[{index}]");
        if caps::number(&verdict.name).is_none() {
            return Err(refuse(&format!("{field}.name"), format!("names an unknown capability `{}`", verdict.name)));
        }
        let recorded = profile.capability(&verdict.name).is_some();
        let tried = proof.trials.iter().any(|trial| trial.set.contains(&verdict.name));
        if !recorded && !tried {
            return Err(refuse(
                &field,
                format!("is {} {}, which the recording never saw and no trial ran with", verdict.verdict, verdict.name),
            ));
        }
    }
    if !proof.passed {
        return Err(refuse("passed", "is false: the proof did not end with a working set".into()));
    }
    let Some(last_pass) = proof.trials.iter().rposition(|trial| trial.passed) else {
        return Err(refuse("trials", "has no passing trial: nothing was proven".into()));
    };
    if let Some(later) = proof.trials[last_pass + 1..].iter().position(|trial| trial.set.len() >= proof.trials[last_pass].set.len()) {
        return Err(refuse(
            &format!("trials[{}]", last_pass + 1 + later),
            "comes after the last passing trial without removing a capability from it".into(),
        ));
    }
    let mut kept: Vec<&str> = proof.kept().collect();
    let mut ran: Vec<&str> = proof.trials[last_pass].set.iter().map(String::as_str).collect();
    kept.sort_unstable();
    ran.sort_unstable();
    if kept != ran {
        return Err(refuse(
            "capabilities",
            format!(
                "keeps [{}], but the last passing trial (trials[{last_pass}]) ran [{}]: the proven set is not what its trials ran",
                kept.join(" "),
                ran.join(" ")
            ),
        ));
    }
    if proof.digest != digest(profile, proof) {
        let why = if proof.digest.is_empty() { "is missing (an older capdisc's proof)" } else { "differs" };
        return Err(Error::Untrusted(format!(
            "{source}: proof does not match this recording (`verification.digest` {why}): the recording or its proof was edited after `capdisc minimize`; prove the set again with `capdisc minimize`"
        )));
    }
    Ok(())
}
