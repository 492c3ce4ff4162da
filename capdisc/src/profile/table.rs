//! The terminal table printed after a recording (and by later subcommands that show profiles).
use std::fmt::Write;

use crate::profile::{CapabilityUse, Profile};

pub fn render(profile: &Profile) -> String {
    let mut out = String::new();
    if profile.capabilities.is_empty() {
        let _ = writeln!(out, "no capability checks were seen");
    } else {
        let _ = writeln!(out, "{}", capability_rows(&profile.capabilities));
    }
    let hints = profile.coverage.describe();
    if !hints.is_empty() {
        let _ = writeln!(out, "not exercised (the executables' imports may check these; never granted):");
        for line in hints {
            let _ = writeln!(out, "  {line}");
        }
    }
    for group in &profile.cgroups {
        let required: Vec<&str> = group.capabilities.iter().filter(|cap| cap.class.granted()).map(|cap| cap.name.as_str()).collect();
        let label = group.unit.as_deref().unwrap_or(&group.cgroup);
        let _ = writeln!(out, "{label}: required {}", if required.is_empty() { "none".into() } else { required.join(" ") });
    }
    if !profile.refusals.is_empty() {
        let _ = writeln!(out, "refused by the sandbox:");
        for refusal in &profile.refusals {
            let _ = writeln!(out, "  {refusal}");
        }
    }
    if profile.refusals_lost > 0 {
        let _ = writeln!(out, "{} kind(s) of sandbox refusal could not be kept (the map was full)", profile.refusals_lost);
    }
    if let Some(note) = profile.unit_phases_not_covered() {
        let _ = writeln!(out, "phases: {note}");
    }
    let _ = write!(out, "{}", losses_text(profile));
    out
}

fn capability_rows(capabilities: &[CapabilityUse]) -> String {
    // A recording that ran a service's phases says in which each capability was checked.
    let phased = capabilities.iter().any(|cap| !cap.phases.is_empty());
    let mut out = format!("{:<24} {:<11} {:>10} {:>8} {:>8}  {}", "CAPABILITY", "CLASS", "GRANTED", "DENIED", "NOAUDIT", "TOP SYSCALL");
    if phased {
        out = format!("{out:<80} PHASES");
    }
    for cap in capabilities {
        let syscall = cap.syscalls.first().map(|syscall| syscall.name.as_str()).unwrap_or("-");
        // A conditional capability shows the file whose mode bits it overrode.
        let top = match (cap.class, cap.paths.first()) {
            (crate::classify::Class::Conditional, Some(path)) => format!("{syscall} {path}"),
            _ => syscall.to_owned(),
        };
        let row = format!("{:<24} {:<11} {:>10} {:>8} {:>8}  {top}", cap.name, cap.class.name(), cap.granted, cap.denied, cap.noaudit);
        let _ = match phased {
            true => write!(out, "\n{row:<80} {}", cap.phases.iter().map(|phase| phase.name()).collect::<Vec<_>>().join(",")),
            false => write!(out, "\n{row}"),
        };
    }
    out
}

/// What the recording could not keep: lost checks first (the profile is incomplete), then details
/// that leave every count exact.
pub fn losses_text(profile: &Profile) -> String {
    let losses = &profile.losses;
    let mut out = String::new();
    if losses.incomplete() {
        let _ = writeln!(out, "LOSSES: {}; the profile is incomplete: record again with a larger --max-keys", losses.describe());
    } else {
        let _ = writeln!(out, "losses: none ({} checks counted)", profile.totals.checks);
    }
    if losses.samples_not_kept() > 0 {
        let _ = writeln!(
            out,
            "note: {} call-site sample(s) not kept (a kind of check had more distinct call sites than are kept, or the stack map was full); every check was counted",
            losses.samples_not_kept()
        );
    }
    if losses.execs_map_full > 0 {
        let _ = writeln!(out, "note: {} executable path(s) not kept; every check was counted", losses.execs_map_full);
    }
    out
}
