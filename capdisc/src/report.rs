//! The terminal table printed after a recording (and by later subcommands that show profiles).
use std::fmt::Write;

use crate::profile::{CapabilityUse, Profile};

pub fn table(profile: &Profile) -> String {
    let mut out = String::new();
    if profile.capabilities.is_empty() {
        let _ = writeln!(out, "no capability checks were seen");
    } else {
        let _ = writeln!(out, "{}", capability_rows(&profile.capabilities));
    }
    for group in &profile.cgroups {
        let required: Vec<&str> =
            group.capabilities.iter().filter(|cap| cap.class == crate::classify::Class::Required).map(|cap| cap.name.as_str()).collect();
        let label = group.unit.as_deref().unwrap_or(&group.cgroup);
        let _ = writeln!(out, "{label}: required {}", if required.is_empty() { "none".into() } else { required.join(" ") });
    }
    let losses = &profile.losses;
    if losses.any() {
        let _ = writeln!(
            out,
            "LOSSES: {} check(s) lost (map full {}, pid set full {}, kprobe pairing {}+{}), {} call-site sample(s) lost, {} exe path(s) lost",
            losses.lost_checks(),
            losses.checks_map_full,
            losses.pids_map_full,
            losses.pending_map_full,
            losses.unpaired_returns,
            losses.stacks_lost + losses.call_site_slots_full,
            losses.execs_map_full
        );
    } else {
        let _ = writeln!(out, "losses: none ({} checks counted)", profile.totals.checks);
    }
    out
}

fn capability_rows(capabilities: &[CapabilityUse]) -> String {
    let mut out = format!("{:<24} {:<9} {:>10} {:>8} {:>8}  {}", "CAPABILITY", "CLASS", "GRANTED", "DENIED", "NOAUDIT", "TOP SYSCALL");
    for cap in capabilities {
        let top = cap.syscalls.first().map(|syscall| syscall.name.as_str()).unwrap_or("-");
        let _ = write!(out, "\n{:<24} {:<9} {:>10} {:>8} {:>8}  {top}", cap.name, cap.class.name(), cap.granted, cap.denied, cap.noaudit);
    }
    out
}
