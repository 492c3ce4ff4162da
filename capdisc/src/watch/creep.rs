//! Creep: a target's audited use of a capability outside its baseline. The first granted use of
//! each such capability is announced (stderr, and the journal under systemd); denied attempts
//! are announced too, with `verdict=denied`. Set-up checks by the service manager and no-audit
//! probes never count (the profile classifies them advisory). Against a *proven* baseline (a
//! `minimize` proof), a denied audited check outside it is a hardening regression: the service
//! was hardened to that set and now fails for a capability the proof did not cover. It is
//! announced as an error (journal priority 3, its own MESSAGE_ID) with what to do. Denials the
//! proof's passing trial had too, and file-permission fallbacks, stay denied creep.
use crate::support::console;
use std::collections::BTreeSet;

use crate::{
    profile::{phase_names, Phase, Profile},
    systemd::journal,
};

/// systemd journal MESSAGE_ID of creep events (stable: alerting may match on it).
pub const MESSAGE_ID: &str = "5f3b0c1e9a7d4b2c8e6f1a0d3c9b7e21";
/// systemd journal MESSAGE_ID of hardening regressions (stable).
pub const REGRESSION_MESSAGE_ID: &str = "c3a1d2e4f5b64a7c9d8e0f1a2b3c4d5e";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creep {
    pub target: String,
    pub capability: String,
    /// `granted` or `denied`.
    pub verdict: &'static str,
    /// Audited checks of that verdict so far.
    pub checks: u64,
    pub syscall: String,
    /// A path the system call named, when one was sampled.
    pub path: Option<String>,
    pub comm: String,
    /// The phases of the service's life it was seen in, when the recording knew them.
    pub phases: Vec<Phase>,
    pub first_seen: String,
    /// Denied outside a proven baseline: the hardened service lacks a capability it needs.
    pub regression: bool,
}

/// Every capability the target used (audited) outside its baseline's set, per verdict.
pub fn outside(target: &str, profile: &Profile, baseline: &Profile) -> Vec<Creep> {
    let allowed: BTreeSet<String> = baseline.granted_names().into_iter().collect();
    let proven = baseline.proven();
    // What the proof's passing trial was denied as well: known, and harmless to the service.
    let denied_in_proof: Vec<&str> = baseline
        .verification
        .iter()
        .flat_map(|proof| proof.trials.iter().rev().find(|trial| trial.passed))
        .flat_map(|trial| trial.denials.iter().filter_map(|denial| denial.split(' ').next()))
        .collect();
    let mut found = Vec::new();
    for cap in profile.capabilities.iter().filter(|cap| !allowed.contains(&cap.name)) {
        let (granted, denied) = cap.audited();
        for (verdict, checks) in [("granted", granted), ("denied", denied)] {
            if checks == 0 {
                continue;
            }
            let syscall = cap
                .syscalls
                .iter()
                .find(|syscall| if verdict == "granted" { syscall.granted > 0 } else { syscall.denied > 0 })
                .or(cap.syscalls.first())
                .map_or_else(|| "none".to_owned(), |syscall| syscall.name.clone());
            found.push(Creep {
                target: target.to_owned(),
                capability: cap.name.clone(),
                verdict,
                checks,
                syscall,
                path: cap.paths.first().cloned().or_else(|| cap.call_sites.iter().find_map(|site| site.path.clone())),
                comm: cap.commands.first().map_or_else(String::new, |command| command.comm.clone()),
                phases: cap.phases.clone(),
                first_seen: cap.first_seen.clone(),
                // A file-permission fallback refused is rarely a failure (the mode bits refused
                // first): denied creep, not a regression.
                regression: proven
                    && verdict == "denied"
                    && !denied_in_proof.contains(&cap.name.as_str())
                    && !cap.call_sites.iter().all(|site| site.fallback.is_some()),
            });
        }
    }
    found
}

/// Announces each (target, capability, verdict) once.
pub struct Announcer {
    announced: BTreeSet<(String, String, &'static str)>,
    journal: bool,
}

impl Announcer {
    pub fn new() -> Self {
        Self { announced: BTreeSet::new(), journal: journal::available() }
    }

    /// Marks creep already announced by an earlier run (resumed from the state directory).
    pub fn already(&mut self, creep: &Creep) {
        self.announced.insert((creep.target.clone(), creep.capability.clone(), creep.verdict));
    }

    pub fn announce(&mut self, creep: &Creep) {
        if !self.announced.insert((creep.target.clone(), creep.capability.clone(), creep.verdict)) {
            return;
        }
        if creep.regression {
            return self.regression(creep);
        }
        let line = format!(
            "creep: target={} capability={} syscall={} comm={} first_seen={} verdict={}",
            creep.target, creep.capability, creep.syscall, creep.comm, creep.first_seen, creep.verdict
        );
        console::say!("{line}");
        let message = format!(
            "{} {} {} outside its baseline ({} in {} by {})",
            creep.target,
            if creep.verdict == "granted" { "used" } else { "was denied" },
            creep.capability,
            creep.checks,
            creep.syscall,
            creep.comm
        );
        self.journal(creep, &message, "4", MESSAGE_ID);
    }

    /// A hardening regression: an error, with the capability, where it was checked, and the two
    /// ways out (prove again over the path that failed, or add just that capability).
    fn regression(&self, creep: &Creep) {
        let message = regression_message(creep);
        console::say!("{message}");
        self.journal(creep, &message, "3", REGRESSION_MESSAGE_ID);
    }

    fn journal(&self, creep: &Creep, message: &str, priority: &str, message_id: &str) {
        if !self.journal {
            return;
        }
        let phases = creep.phases.iter().map(|phase| phase.name()).collect::<Vec<_>>().join(",");
        let mut fields = vec![
            ("MESSAGE", message),
            ("PRIORITY", priority),
            ("MESSAGE_ID", message_id),
            ("SYSLOG_IDENTIFIER", "capdisc"),
            ("CAPDISC_TARGET", creep.target.as_str()),
            ("CAPDISC_CAPABILITY", creep.capability.as_str()),
            ("CAPDISC_VERDICT", creep.verdict),
            ("CAPDISC_SYSCALL", creep.syscall.as_str()),
            ("CAPDISC_COMM", creep.comm.as_str()),
            ("CAPDISC_FIRST_SEEN", creep.first_seen.as_str()),
        ];
        if let Some(path) = &creep.path {
            fields.push(("CAPDISC_PATH", path.as_str()));
        }
        if !phases.is_empty() {
            fields.push(("CAPDISC_PHASES", phases.as_str()));
        }
        // What `journalctl -u UNIT` shows from a root daemon about a unit.
        if !creep.target.contains('/') && creep.target.contains('.') {
            fields.push(("OBJECT_SYSTEMD_UNIT", creep.target.as_str()));
        }
        if let Err(err) = journal::send(&fields) {
            console::warning!("cannot write the creep event to the journal: {err}");
        }
    }
}

impl Default for Announcer {
    fn default() -> Self {
        Self::new()
    }
}

/// The line and journal message of a hardening regression. A `--cgroup` target is a unit's when
/// its path is a service's; otherwise the advice names what starts the service, which capdisc
/// cannot know (it said `systemctl edit /PATH`).
fn regression_message(creep: &Creep) -> String {
    let path = creep.path.as_deref().map(|path| format!(" {path}")).unwrap_or_default();
    let phases = if creep.phases.is_empty() { String::new() } else { format!(" in phase {}", phase_names(&creep.phases)) };
    let cap = &creep.capability;
    let unit = if creep.target.starts_with('/') {
        crate::systemd::unit_of_cgroup_path(&creep.target).filter(|unit| unit.ends_with(".service"))
    } else {
        Some(creep.target.clone())
    };
    let ways_out = match unit {
            Some(unit) => format!(
                "re-prove over the path that failed (capdisc minimize --unit {unit} with --exercise or its phases), or add just {cap} (systemctl edit {unit}: CapabilityBoundingSet={cap}, and AmbientCapabilities={cap} for a non-root service)"
            ),
            None => format!(
                "re-prove the service that runs in it over the path that failed (capdisc minimize -- CMD or --container NAME, with --exercise), or add just {cap} where it is started (its container's --cap-add={cap}, or its service manager's bounding and ambient sets)"
            ),
        };
    format!(
        "hardening regression: {} was denied {cap} ({} time(s) in {}{path} by {}{phases}), outside its proven set; {ways_out}",
        creep.target, creep.checks, creep.syscall, creep.comm,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::parse;

    fn fixture(name: &str, text: &str) -> Profile {
        parse(text, name).expect("fixture parses")
    }

    #[test]
    fn only_audited_use_outside_the_baseline_is_creep() {
        let story = fixture("story-app", include_str!("../../tests/fixtures/story-app.yaml"));
        let nothing = fixture("nothing-needed", include_str!("../../tests/fixtures/nothing-needed.yaml"));
        let mixed = fixture("denied-and-advisory", include_str!("../../tests/fixtures/denied-and-advisory.yaml"));
        let found = outside("app.service", &story, &nothing);
        // CAP_SYS_ADMIN is advisory (no-audit probes): never creep.
        assert_eq!(
            found.iter().map(|creep| (creep.capability.as_str(), creep.verdict)).collect::<Vec<_>>(),
            [("CAP_NET_BIND_SERVICE", "granted")]
        );
        assert_eq!(found[0].syscall, "bind");
        assert!(outside("app.service", &story, &story).is_empty(), "a baseline allows its own use");
        // Denied attempts outside the baseline are creep with their own verdict.
        let verdicts: Vec<(String, &str)> =
            outside("x", &mixed, &nothing).into_iter().map(|creep| (creep.capability, creep.verdict)).collect();
        assert_eq!(verdicts, [("CAP_CHOWN".to_owned(), "granted"), ("CAP_NET_BIND_SERVICE".to_owned(), "denied")]);
    }

    #[test]
    fn a_regression_names_the_way_out_the_target_has() {
        let creep = |target: &str| Creep {
            target: target.into(),
            capability: "CAP_KILL".into(),
            verdict: "denied",
            checks: 1,
            syscall: "kill".into(),
            path: None,
            comm: "kill".into(),
            phases: Vec::new(),
            first_seen: String::new(),
            regression: true,
        };
        let unit = regression_message(&creep("reload-kill.service"));
        assert!(
            unit.contains("capdisc minimize --unit reload-kill.service") && unit.contains("systemctl edit reload-kill.service:"),
            "{unit}"
        );
        let unit_cgroup = regression_message(&creep("/system.slice/reload-kill.service"));
        assert!(unit_cgroup.contains("systemctl edit reload-kill.service:"), "{unit_cgroup}");
        let cgroup = regression_message(&creep("/capdisc-watch-test"));
        assert!(!cgroup.contains("--unit") && !cgroup.contains("systemctl edit"), "{cgroup}");
        assert!(cgroup.contains("--cap-add=CAP_KILL"), "{cgroup}");
    }
}
