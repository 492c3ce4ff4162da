//! `capdisc diff`: privilege creep between a baseline and a current profile.
use std::collections::BTreeSet;

use serde::Serialize;

use super::model::{CapabilityUse, Profile};
use crate::classify::Class;

#[derive(Debug, Default, Serialize)]
pub struct Diff {
    /// Required now, not required in the baseline: the privilege creep.
    pub newly_required: Vec<String>,
    /// Seen in the baseline, not seen at all now.
    pub no_longer_used: Vec<String>,
    pub class_changes: Vec<ClassChange>,
    /// (capability, syscall) pairs new for a capability seen in both.
    pub new_syscalls: Vec<(String, String)>,
    /// (capability, call site) pairs new for a capability seen in both.
    pub new_call_sites: Vec<(String, String)>,
    /// Either profile lost checks: "no longer used" may be a loss, not a change.
    pub baseline_losses: u64,
    pub current_losses: u64,
}

#[derive(Debug, Serialize)]
pub struct ClassChange {
    pub name: String,
    pub from: Class,
    pub to: Class,
}

pub fn diff(baseline: &Profile, current: &Profile) -> Diff {
    let mut result =
        Diff { baseline_losses: baseline.losses.lost_checks(), current_losses: current.losses.lost_checks(), ..Diff::default() };
    for now in &current.capabilities {
        match baseline.capability(&now.name) {
            None => {
                if now.class.granted() {
                    result.newly_required.push(now.name.clone());
                }
            }
            Some(before) => {
                if before.class != now.class {
                    if now.class.granted() {
                        result.newly_required.push(now.name.clone());
                    }
                    result.class_changes.push(ClassChange { name: now.name.clone(), from: before.class, to: now.class });
                }
                new_evidence(before, now, &mut result);
            }
        }
    }
    for before in &baseline.capabilities {
        if current.capability(&before.name).is_none() {
            result.no_longer_used.push(before.name.clone());
        }
    }
    result
}

fn new_evidence(before: &CapabilityUse, now: &CapabilityUse, result: &mut Diff) {
    let old_syscalls: BTreeSet<&str> = before.syscalls.iter().map(|s| s.name.as_str()).collect();
    for syscall in &now.syscalls {
        if !old_syscalls.contains(syscall.name.as_str()) {
            result.new_syscalls.push((now.name.clone(), syscall.name.clone()));
        }
    }
    let old_sites: BTreeSet<&Vec<String>> = before.call_sites.iter().map(|site| &site.frames).collect();
    for site in &now.call_sites {
        if !old_sites.contains(&site.frames) {
            result.new_call_sites.push((now.name.clone(), site.frames.join(" <- ")));
        }
    }
}

impl Diff {
    pub fn creep(&self) -> bool {
        !self.newly_required.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let list = |items: &[String]| if items.is_empty() { "none".to_owned() } else { items.join(" ") };
        out.push_str(&format!("newly required: {}\n", list(&self.newly_required)));
        out.push_str(&format!("no longer used: {}\n", list(&self.no_longer_used)));
        for change in &self.class_changes {
            out.push_str(&format!("class changed:  {} {} -> {}\n", change.name, change.from.name(), change.to.name()));
        }
        for (cap, syscall) in &self.new_syscalls {
            out.push_str(&format!("new syscall:    {cap} in {syscall}\n"));
        }
        for (cap, site) in &self.new_call_sites {
            out.push_str(&format!("new call site:  {cap}: {site}\n"));
        }
        for (which, lost) in [("baseline", self.baseline_losses), ("current", self.current_losses)] {
            if lost > 0 {
                out.push_str(&format!(
                    "warning: the {which} profile lost {lost} check(s): capabilities may be missing from it, so this comparison is incomplete\n"
                ));
            }
        }
        out
    }
}
