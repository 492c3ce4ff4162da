//! `capdisc merge`: the union of several recordings of the same service, so coverage can be
//! built from several exercises. Counts are summed, windows widened, every source kept in
//! `merged_from`; a capability's class is the strongest any run gave it, its reason recomputed
//! from the summed counts. The same recording twice, or recordings of different services, are
//! refused unless forced.
use std::collections::BTreeMap;

use super::model::*;
use crate::{
    classify::{reason_of, Class, Namespaces},
    error::Error,
};

/// Merges profiles given as (source name, profile). Refuses, unless `force`, the same
/// recording twice (its counts would double) and recordings of different services.
pub fn merge(inputs: &[(String, Profile)], force: bool) -> Result<Profile, Error> {
    let ((first_name, first), rest) = inputs.split_first().ok_or_else(|| Error::Usage("merge needs at least one profile".into()))?;
    if !force {
        refuse_duplicates(inputs)?;
        for (name, profile) in rest {
            if service_of(profile) != service_of(first) {
                return Err(Error::Usage(format!(
                    "{first_name} records {} but {name} records {}: merge unites recordings of one service; pass --force to merge them anyway",
                    service_of(first),
                    service_of(profile)
                )));
            }
        }
    }
    let mut merged = first.clone();
    let rootless = first.target.rootless();
    // A proof holds for the recording it was made from, not for a union of several.
    merged.verification = None;
    merged.merged_from = inputs.iter().flat_map(|(_, profile)| sources(profile)).collect();
    for (_, profile) in rest {
        merged.started_at = merged.started_at.clone().min(profile.started_at.clone());
        merged.ended_at = merged.ended_at.clone().max(profile.ended_at.clone());
        merged.exit_status = None;
        merged.losses.add(&profile.losses);
        merged.totals.checks += profile.totals.checks;
        merged.totals.granted += profile.totals.granted;
        merged.totals.denied += profile.totals.denied;
        merged.totals.noaudit += profile.totals.noaudit;
        merged.capabilities = merge_uses(&merged.capabilities, &profile.capabilities, rootless);
        for group in &profile.cgroups {
            match merged.cgroups.iter_mut().find(|mine| mine.cgroup == group.cgroup) {
                Some(mine) => mine.capabilities = merge_uses(&mine.capabilities, &group.capabilities, rootless),
                None => merged.cgroups.push(group.clone()),
            }
        }
    }
    for (_, profile) in rest {
        for executable in &profile.executables {
            if !merged.executables.contains(executable) {
                merged.executables.push(executable.clone());
            }
        }
        for hint in &profile.coverage.unexercised {
            if !merged.coverage.unexercised.contains(hint) {
                merged.coverage.unexercised.push(hint.clone());
            }
        }
        // What was done is known for the merge only when every recording kept it.
        merged.activity = match (merged.activity.take(), &profile.activity) {
            (Some(mut mine), Some(theirs)) => {
                mine.add(theirs);
                Some(mine)
            }
            _ => None,
        };
    }
    merged.executables.sort();
    // A hint one run left open and another run exercised is closed.
    let seen: Vec<String> = merged.capabilities.iter().map(|cap| cap.name.clone()).collect();
    merged.coverage.unexercised.retain(|hint| !seen.contains(&hint.capability));
    // The window the merged profile covers, from the earliest start to the latest end.
    let (started, ended) = (humantime::parse_rfc3339_weak(&merged.started_at), humantime::parse_rfc3339_weak(&merged.ended_at));
    if let (Ok(started), Ok(ended)) = (started, ended) {
        merged.duration_secs = ended.duration_since(started).unwrap_or_default().as_secs_f64();
    }
    let backends: Vec<String> = {
        let mut names: Vec<String> = merged.merged_from.iter().map(|source| source.backend.to_string()).collect();
        names.dedup();
        names
    };
    merged.backend_selection = format!("merged from {} recording(s) (backends: {})", merged.merged_from.len(), backends.join(", "));
    if !first.target.description.starts_with("merged: ") {
        merged.target.description = format!("merged: {}", first.target.description);
    }
    Ok(merged)
}

/// What service a profile records, for telling related recordings from unrelated ones: the
/// unit, the command's program, or the cgroup.
fn service_of(profile: &Profile) -> String {
    let target = &profile.target;
    if let Some(unit) = &target.unit {
        return format!("unit {unit}");
    }
    if let Some(program) = target.command.as_ref().and_then(|argv| argv.first()) {
        let name = program.rsplit('/').next().unwrap_or(program);
        return format!("command {name}");
    }
    match (&target.cgroup, target.pid) {
        _ if target.kind == TargetKind::All => "every task on the host".to_owned(),
        (Some(cgroup), _) => format!("cgroup {cgroup}"),
        (None, Some(pid)) => format!("pid {pid}"),
        _ => target.description.trim_start_matches("merged: ").to_owned(),
    }
}

fn refuse_duplicates(inputs: &[(String, Profile)]) -> Result<(), Error> {
    let mut seen: Vec<(&str, Recording)> = Vec::new();
    for (name, profile) in inputs {
        for source in sources(profile) {
            if let Some((earlier, _)) = seen.iter().find(|(_, known)| *known == source) {
                return Err(Error::Usage(format!(
                    "{earlier} and {name} both hold the recording of {} started {} on {}: merging it twice would double its counts; pass --force to merge anyway",
                    source.target, source.started_at, source.host
                )));
            }
            seen.push((name, source));
        }
    }
    Ok(())
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

fn merge_uses(a: &[CapabilityUse], b: &[CapabilityUse], rootless: bool) -> Vec<CapabilityUse> {
    let mut by_number: BTreeMap<u32, CapabilityUse> = a.iter().map(|cap| (cap.number, cap.clone())).collect();
    for cap in b {
        match by_number.get_mut(&cap.number) {
            None => {
                by_number.insert(cap.number, cap.clone());
            }
            Some(mine) => merge_use(mine, cap, rootless),
        }
    }
    let mut uses: Vec<CapabilityUse> = by_number.into_values().collect();
    uses.sort_by(|x, y| x.class.cmp(&y.class).then(x.number.cmp(&y.number)));
    uses
}

fn merge_use(mine: &mut CapabilityUse, other: &CapabilityUse, rootless: bool) {
    let (mine_granted, mine_denied) = mine.audited();
    let (other_granted, other_denied) = other.audited();
    mine.granted_audited = mine_granted + other_granted;
    mine.denied_audited = mine_denied + other_denied;
    mine.granted_fallback += other.granted_fallback;
    for path in &other.paths {
        if mine.paths.len() < 8 && !mine.paths.contains(path) {
            mine.paths.push(path.clone());
        }
    }
    if other.class < mine.class {
        mine.class = other.class;
        mine.reason = other.reason.clone();
    }
    mine.granted += other.granted;
    mine.denied += other.denied;
    mine.noaudit += other.noaudit;
    mine.foreign_userns += other.foreign_userns;
    mine.own_userns += other.own_userns;
    mine.insetid += other.insetid;
    union_phases(&mut mine.phases, &other.phases);
    for syscall in &other.syscalls {
        match mine.syscalls.iter_mut().find(|s| s.number == syscall.number) {
            Some(s) => {
                s.granted += syscall.granted;
                s.denied += syscall.denied;
                s.noaudit += syscall.noaudit;
                if s.check_errno.is_none() {
                    s.check_errno = syscall.check_errno.clone();
                }
                s.returned_ok += syscall.returned_ok;
                s.returned_failed += syscall.returned_failed;
                if s.returned_errno.is_none() {
                    s.returned_errno = syscall.returned_errno.clone();
                }
                union_phases(&mut s.phases, &syscall.phases);
            }
            None => mine.syscalls.push(syscall.clone()),
        }
    }
    mine.syscalls.sort_by_key(|syscall| std::cmp::Reverse(syscall.granted + syscall.denied));
    for site in &other.call_sites {
        match mine.call_sites.iter_mut().find(|seen| seen.frames == site.frames && seen.path == site.path) {
            Some(seen) => union_phases(&mut seen.phases, &site.phases),
            None => mine.call_sites.push(site.clone()),
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
    // The reason says the merged counts, not one run's (an advisory reason names its call site).
    if !matches!(mine.class, Class::Advisory | Class::Setup) {
        let top = mine.syscalls.first().map(|syscall| syscall.name.clone()).unwrap_or_default();
        let namespaces = Namespaces { checks: mine.granted + mine.denied, foreign: mine.foreign_userns, own: mine.own_userns, rootless };
        mine.reason = reason_of(mine.class, mine.granted_audited, mine.denied_audited, &top, "", namespaces);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::parse;

    #[test]
    fn a_hint_one_run_left_open_and_another_exercised_is_closed() {
        let story = parse(include_str!("../../tests/fixtures/story-app.yaml"), "story-app").expect("fixture");
        let mut quiet = parse(include_str!("../../tests/fixtures/nothing-needed.yaml"), "nothing-needed").expect("fixture");
        let hint = |capability: &str, symbol: &str| Hint {
            capability: capability.into(),
            symbols: vec![symbol.into()],
            executable: "/usr/local/bin/app".into(),
        };
        quiet.coverage.unexercised = vec![hint("CAP_KILL", "kill"), hint("CAP_NET_BIND_SERVICE", "bind")];
        quiet.executables = vec!["/usr/local/bin/app".into()];
        let merged = merge(&[("quiet".into(), quiet), ("story".into(), story)], true).expect("merge");
        // The story's run bound port 443: its bind hint is closed; nobody ran kill.
        assert_eq!(merged.coverage.unexercised, vec![hint("CAP_KILL", "kill")]);
        assert!(merged.executables.contains(&"/usr/local/bin/app".to_owned()));
    }
}
