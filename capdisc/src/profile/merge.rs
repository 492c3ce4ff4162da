//! `capdisc merge`: the union of several recordings of the same service, so coverage can be
//! built from several exercises. Counts are summed, windows widened, every source kept in
//! `merged_from`; a capability's class is the strongest any run gave it.
use std::collections::BTreeMap;

use super::model::*;
use crate::error::Error;

pub fn merge(profiles: &[Profile]) -> Result<Profile, Error> {
    let (first, rest) = profiles.split_first().ok_or_else(|| Error::Usage("merge needs at least one profile".into()))?;
    let mut merged = first.clone();
    merged.merged_from = profiles.iter().flat_map(sources).collect();
    for profile in rest {
        merged.started_at = merged.started_at.clone().min(profile.started_at.clone());
        merged.ended_at = merged.ended_at.clone().max(profile.ended_at.clone());
        merged.duration_secs += profile.duration_secs;
        merged.exit_status = None;
        merged.losses.add(&profile.losses);
        merged.totals.checks += profile.totals.checks;
        merged.totals.granted += profile.totals.granted;
        merged.totals.denied += profile.totals.denied;
        merged.totals.noaudit += profile.totals.noaudit;
        merged.capabilities = merge_uses(&merged.capabilities, &profile.capabilities);
        for group in &profile.cgroups {
            match merged.cgroups.iter_mut().find(|mine| mine.cgroup == group.cgroup) {
                Some(mine) => mine.capabilities = merge_uses(&mine.capabilities, &group.capabilities),
                None => merged.cgroups.push(group.clone()),
            }
        }
    }
    let backends: Vec<String> = {
        let mut names: Vec<String> = merged.merged_from.iter().map(|source| source.backend.to_string()).collect();
        names.dedup();
        names
    };
    merged.backend_selection = format!("merged from {} recording(s) (backends: {})", profiles.len(), backends.join(", "));
    merged.target.description = format!("merged: {}", first.target.description);
    Ok(merged)
}

fn sources(profile: &Profile) -> Vec<Recording> {
    if !profile.merged_from.is_empty() {
        return profile.merged_from.clone();
    }
    vec![Recording {
        backend: profile.backend,
        host: profile.host.clone(),
        kernel: profile.kernel.clone(),
        target: profile.target.description.clone(),
        started_at: profile.started_at.clone(),
        ended_at: profile.ended_at.clone(),
    }]
}

fn merge_uses(a: &[CapabilityUse], b: &[CapabilityUse]) -> Vec<CapabilityUse> {
    let mut by_number: BTreeMap<u32, CapabilityUse> = a.iter().map(|cap| (cap.number, cap.clone())).collect();
    for cap in b {
        match by_number.get_mut(&cap.number) {
            None => {
                by_number.insert(cap.number, cap.clone());
            }
            Some(mine) => merge_use(mine, cap),
        }
    }
    let mut uses: Vec<CapabilityUse> = by_number.into_values().collect();
    uses.sort_by(|x, y| x.class.cmp(&y.class).then(x.number.cmp(&y.number)));
    uses
}

fn merge_use(mine: &mut CapabilityUse, other: &CapabilityUse) {
    if other.class < mine.class {
        mine.class = other.class;
        mine.reason = other.reason.clone();
    }
    mine.granted += other.granted;
    mine.denied += other.denied;
    mine.noaudit += other.noaudit;
    mine.foreign_userns += other.foreign_userns;
    mine.insetid += other.insetid;
    for syscall in &other.syscalls {
        match mine.syscalls.iter_mut().find(|s| s.number == syscall.number) {
            Some(s) => {
                s.granted += syscall.granted;
                s.denied += syscall.denied;
                s.noaudit += syscall.noaudit;
                if s.check_errno.is_none() {
                    s.check_errno = syscall.check_errno.clone();
                }
            }
            None => mine.syscalls.push(syscall.clone()),
        }
    }
    mine.syscalls.sort_by_key(|syscall| std::cmp::Reverse(syscall.granted + syscall.denied));
    for site in &other.call_sites {
        if !mine.call_sites.contains(site) {
            mine.call_sites.push(site.clone());
        }
    }
    for command in &other.commands {
        if !mine.commands.contains(command) {
            mine.commands.push(command.clone());
        }
    }
    mine.commands.sort();
    for uid in &other.uids {
        if !mine.uids.contains(uid) {
            mine.uids.push(*uid);
        }
    }
    mine.uids.sort_unstable();
    mine.first_seen = mine.first_seen.clone().min(other.first_seen.clone());
    mine.last_seen = mine.last_seen.clone().max(other.last_seen.clone());
}
