//! From drained kernel data to a [`Profile`]: symbolize call sites, classify each key, and
//! aggregate per capability (and per cgroup for `--all`).
use std::{
    collections::{BTreeMap, BTreeSet},
    time::SystemTime,
};

use capdisc_common::{flags, CheckKey, CheckStats};

use super::model::*;
use crate::{
    caps,
    classify::{self, call_site_frames, class_of, Class},
    host::CgroupNames,
    kernel::kallsyms::Kallsyms,
    kernel::syscalls,
    probe::{comm_text, Backend, Drained},
    sandbox::{self, Refused, Settings, SyscallGroups},
    support::clock::{rfc3339, BootClock},
    systemd::unit_of_cgroup_path,
};

pub struct RecordingMeta<'a> {
    pub backend: Backend,
    pub selection: String,
    pub target: TargetInfo,
    pub started: SystemTime,
    pub ended: SystemTime,
    pub exit_status: Option<i32>,
    /// Break results down per cgroup (`--all`).
    pub per_cgroup: bool,
    pub cgroup_names: &'a CgroupNames,
    /// The recording ran the phases of a service's life (a trial's): each check's phase is kept.
    pub phased: bool,
    /// The target started in the host's user namespace (`Target::starts_in_host_userns`): a
    /// check against another user namespace is against one it made itself, never a need.
    pub host_userns: bool,
}

pub fn build(drained: &Drained, meta: RecordingMeta<'_>, kallsyms: Option<&Kallsyms>) -> Profile {
    let clock = BootClock::now();
    let mut overall: BTreeMap<u32, Accumulator> = BTreeMap::new();
    let mut per_cgroup: BTreeMap<u64, BTreeMap<u32, Accumulator>> = BTreeMap::new();
    let mut totals = Totals::default();
    let rootless = meta.target.rootless();
    let refusals = refusals(drained, meta.target.unit.as_deref(), meta.phased);
    for (key, stats) in &drained.checks {
        let sampled = call_sites(drained, key, stats, kallsyms);
        let sites: Vec<Vec<String>> = sampled.iter().map(|(frames, _)| frames.clone()).collect();
        // A denied check is evidence whoever made it: a runtime's work confined by the container's
        // own set (crun 1.21 re-executing itself as the container's user) can fail the start.
        // Except, in a rootless container, one against the host's user namespace: no set can
        // change its outcome (crun's attempts to join the host's namespaces on `podman exec`).
        let unchangeable = rootless && key.flags & flags::FOREIGN_USERNS == 0;
        let setup = if key.ret == 0 || unchangeable { classify::setup_reason(&comm_text(&key.comm)) } else { None };
        let noaudit = setup.map(str::to_owned).or_else(|| classify::noaudit_reason(key.flags, &sites));
        // Granted, audited, and only ever reached after the mode bits refused: conditional.
        let fallback = key.ret == 0 && noaudit.is_none() && classify::all_fallbacks(&sites);
        let exe = drained.execs.get(&key.comm).cloned();
        totals.checks += stats.count;
        if key.ret == 0 {
            totals.granted += stats.count
        } else {
            totals.denied += stats.count
        }
        if noaudit.is_some() {
            totals.noaudit += stats.count
        }
        let phase = if meta.phased { Phase::of_marker(key.phase) } else { None };
        let own_userns = meta.host_userns && !rootless && key.flags & flags::FOREIGN_USERNS != 0;
        let observation = Observation {
            key,
            stats,
            sites: &sampled,
            noaudit: noaudit.as_deref(),
            setup: setup.is_some(),
            fallback,
            own_userns,
            exe,
            phase,
        };
        overall.entry(key.cap).or_default().add(&observation);
        if meta.per_cgroup {
            per_cgroup.entry(key.cgroup_id).or_default().entry(key.cap).or_default().add(&observation);
        }
    }
    let finish = |accumulators: BTreeMap<u32, Accumulator>| {
        let mut uses: Vec<CapabilityUse> = accumulators.into_iter().map(|(number, acc)| acc.finish(number, &clock, rootless)).collect();
        uses.sort_by(|a, b| a.class.cmp(&b.class).then(a.number.cmp(&b.number)));
        uses
    };
    let cgroups = per_cgroup
        .into_iter()
        .map(|(id, accumulators)| {
            let path = meta.cgroup_names.path(id).map(str::to_owned).unwrap_or_else(|| format!("cgroup id {id} (gone)"));
            CgroupUse { unit: unit_of_cgroup_path(&path), cgroup: path, capabilities: finish(accumulators) }
        })
        .collect();
    Profile {
        schema_version: SCHEMA_VERSION,
        capdisc_version: env!("CARGO_PKG_VERSION").to_owned(),
        host: hostname(),
        kernel: kernel_release(),
        backend: meta.backend,
        backend_selection: meta.selection,
        target: meta.target,
        started_at: rfc3339(meta.started),
        ended_at: rfc3339(meta.ended),
        duration_secs: meta.ended.duration_since(meta.started).unwrap_or_default().as_secs_f64(),
        exit_status: meta.exit_status,
        losses: Losses::from_counters(&drained.counters),
        totals,
        capabilities: finish(overall),
        cgroups,
        merged_from: Vec::new(),
        executables: {
            let mut executables: Vec<String> = drained.execs.values().cloned().collect();
            executables.sort();
            executables.dedup();
            executables
        },
        coverage: Coverage::default(),
        verification: None,
        refusals,
        refusals_lost: drained.counters[capdisc_common::counter::REFUSALS_MAP_FULL as usize],
        activity: super::Activity::from_kernel(drained),
    }
}

/// The sandbox's refusals, one per kind (phases merged), each attributed to the unit's setting
/// (read from systemd once, only when there are refusals); most frequent first.
fn refusals(drained: &Drained, unit: Option<&str>, phased: bool) -> Vec<SandboxRefusal> {
    if drained.refusals.is_empty() {
        return Vec::new();
    }
    let settings = unit.and_then(|unit| Settings::of_unit(unit).ok());
    let groups = SyscallGroups::of_this_host();
    let mut kinds: BTreeMap<(i32, u32, i64, Option<String>), SandboxRefusal> = BTreeMap::new();
    for (key, stats) in &drained.refusals {
        let refused = Refused::from_kernel(key, stats);
        let Some(attribution) = sandbox::attribute(&refused, settings.as_ref(), &groups) else { continue };
        let phase = if phased { Phase::of_marker(key.phase) } else { None };
        let family = matches!(refused.syscall.as_str(), "socket" | "socketpair").then(|| sandbox::family_name(refused.args[0] as u32));
        let entry = kinds.entry((key.syscall, key.how, key.ret, family.clone())).or_insert_with(|| SandboxRefusal {
            syscall: refused.syscall.clone(),
            by: refused.kind,
            errno: refused.errno(),
            path: refused.path.clone(),
            family,
            no_new_privs: refused.kind == RefusedBy::Exec && refused.gain().no_new_privs,
            comm: refused.comm.clone(),
            count: 0,
            phases: Vec::new(),
            setting: attribution.setting,
            why: attribution.why,
            fix: attribution.fix,
            fix_alternative: attribution.alternative,
        });
        entry.count += refused.count;
        if let Some(phase) = phase {
            if !entry.phases.contains(&phase) {
                entry.phases.push(phase);
                entry.phases.sort();
            }
        }
    }
    let mut refusals: Vec<SandboxRefusal> = kinds.into_values().collect();
    refusals.sort_by(|a, b| b.count.cmp(&a.count).then(a.syscall.cmp(&b.syscall)));
    refusals
}

/// Symbolized, trimmed call sites of one key.
/// Symbolized, trimmed call sites of one key, each with the path its system call named (when
/// the system call names one and it could be read).
fn call_sites(drained: &Drained, key: &CheckKey, stats: &CheckStats, kallsyms: Option<&Kallsyms>) -> Vec<(Vec<String>, Option<String>)> {
    let symbol = |address: &u64| {
        kallsyms.and_then(|symbols| symbols.function(*address)).map(str::to_owned).unwrap_or_else(|| format!("{address:#x}"))
    };
    (0u32..)
        .zip(stats.call_sites.iter())
        .filter(|(_, id)| **id != 0)
        .filter_map(|(slot, id)| {
            let addresses = drained.stacks.get(&(id - 1))?;
            let names: Vec<String> = addresses.iter().map(symbol).collect();
            Some((call_site_frames(&names), drained.paths.get(&(*key, slot)).cloned()))
        })
        .collect()
}

struct Observation<'a> {
    key: &'a CheckKey,
    stats: &'a CheckStats,
    sites: &'a [(Vec<String>, Option<String>)],
    noaudit: Option<&'a str>,
    /// Made by set-up (a service manager's child, a container runtime): `noaudit` says so.
    setup: bool,
    /// Every sampled call site is a file-permission fallback.
    fallback: bool,
    /// Against a user namespace the target made itself: counted, never a need.
    own_userns: bool,
    exe: Option<String>,
    /// The phase of the service's life it was made in, for a phased recording.
    phase: Option<Phase>,
}

/// Distinct paths kept per capability.
const PATHS_PER_CAPABILITY: usize = 8;

#[derive(Default)]
struct Accumulator {
    granted: u64,
    denied: u64,
    noaudit: u64,
    /// Of the no-audit ones, made by set-up (`classify::setup_reason`).
    setup: u64,
    granted_audited: u64,
    granted_fallback: u64,
    denied_audited: u64,
    foreign_userns: u64,
    own_userns: u64,
    insetid: u64,
    phases: Vec<Phase>,
    paths: BTreeSet<String>,
    noaudit_reason: Option<String>,
    syscalls: BTreeMap<i32, SyscallUse>,
    call_sites: Vec<CallSite>,
    commands: BTreeSet<CommandInfo>,
    uids: BTreeSet<u32>,
    first_ns: u64,
    last_ns: u64,
}

impl Accumulator {
    fn add(&mut self, seen: &Observation<'_>) {
        let (key, count) = (seen.key, seen.stats.count);
        let granted = key.ret == 0;
        if granted {
            self.granted += count
        } else {
            self.denied += count
        }
        match seen.noaudit {
            _ if seen.own_userns => self.own_userns += count,
            Some(reason) => {
                self.noaudit += count;
                if seen.setup {
                    self.setup += count;
                }
                self.noaudit_reason.get_or_insert_with(|| reason.to_owned());
            }
            None if granted => {
                self.granted_audited += count;
                if seen.fallback {
                    self.granted_fallback += count;
                }
            }
            None => self.denied_audited += count,
        }
        if key.flags & flags::FOREIGN_USERNS != 0 {
            self.foreign_userns += count
        }
        if key.flags & flags::INSETID != 0 {
            self.insetid += count
        }
        let syscall = self.syscalls.entry(key.syscall).or_insert_with(|| SyscallUse {
            name: syscalls::name(key.syscall),
            number: key.syscall,
            granted: 0,
            denied: 0,
            noaudit: 0,
            check_errno: None,
            phases: Vec::new(),
            returned_ok: 0,
            returned_failed: 0,
            returned_errno: None,
        });
        let phase: &[Phase] = seen.phase.as_slice();
        union_phases(&mut syscall.phases, phase);
        union_phases(&mut self.phases, phase);
        if granted {
            syscall.granted += count
        } else {
            syscall.denied += count;
            syscall.check_errno = Some(errno_name(key.ret));
            syscall.returned_ok += seen.stats.syscall_ok;
            syscall.returned_failed += seen.stats.syscall_failed;
            if seen.stats.syscall_failed > 0 {
                syscall.returned_errno = Some(crate::kernel::errno::name(seen.stats.syscall_errno));
            }
        }
        if seen.noaudit.is_some() {
            syscall.noaudit += count
        }
        for (frames, path) in seen.sites {
            match self.call_sites.iter_mut().find(|site| &site.frames == frames) {
                Some(site) => union_phases(&mut site.phases, phase),
                None => {
                    let noaudit = classify::noaudit_site(frames).map(str::to_owned);
                    let fallback = classify::fallback_site(frames).map(|found| found.refused.to_owned());
                    self.call_sites.push(CallSite {
                        frames: frames.clone(),
                        noaudit,
                        fallback,
                        path: path.clone(),
                        phases: phase.to_vec(),
                    });
                }
            }
            if let Some(path) = path {
                if self.paths.len() < PATHS_PER_CAPABILITY {
                    self.paths.insert(path.clone());
                }
            }
        }
        self.commands.insert(CommandInfo { comm: comm_text(&key.comm), exe: seen.exe.clone() });
        // Who the service runs as is told by its own checks: a container runtime's set-up runs
        // as root whoever the container's user is.
        if !seen.setup {
            self.uids.insert(key.uid);
        }
        let stats = seen.stats;
        if self.first_ns == 0 || stats.first_ns < self.first_ns {
            self.first_ns = stats.first_ns
        }
        self.last_ns = self.last_ns.max(stats.last_ns);
    }

    /// `rootless`: the target is a rootless container (the reason says which user namespace).
    fn finish(self, number: u32, clock: &BootClock, rootless: bool) -> CapabilityUse {
        let class = match class_of(self.granted_audited, self.granted_fallback, self.denied_audited, self.setup == self.noaudit) {
            // Nothing audited outside the service's own user namespaces, and checks there.
            Class::Advisory | Class::Setup if self.own_userns > 0 && self.noaudit == 0 => Class::Userns,
            class => class,
        };
        let mut syscalls: Vec<SyscallUse> = self.syscalls.into_values().collect();
        syscalls.sort_by_key(|syscall| std::cmp::Reverse(syscall.granted + syscall.denied));
        let top = syscalls.first().map(|s| s.name.clone()).unwrap_or_default();
        let reason = classify::reason_of(
            class,
            self.granted_audited,
            self.denied_audited,
            &top,
            self.noaudit_reason.as_deref().unwrap_or_default(),
            classify::Namespaces { checks: self.granted + self.denied, foreign: self.foreign_userns, own: self.own_userns, rootless },
        );
        CapabilityUse {
            name: caps::name(number),
            number,
            class,
            reason,
            granted: self.granted,
            denied: self.denied,
            noaudit: self.noaudit,
            granted_audited: self.granted_audited,
            granted_fallback: self.granted_fallback,
            denied_audited: self.denied_audited,
            paths: self.paths.into_iter().collect(),
            foreign_userns: self.foreign_userns,
            own_userns: self.own_userns,
            insetid: self.insetid,
            phases: self.phases,
            syscalls,
            call_sites: self.call_sites,
            commands: self.commands.into_iter().collect(),
            uids: self.uids.into_iter().collect(),
            first_seen: rfc3339(clock.wall(self.first_ns)),
            last_seen: rfc3339(clock.wall(self.last_ns)),
        }
    }
}

fn errno_name(ret: i32) -> String {
    match -ret {
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        other => format!("errno {other}"),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|name| name.trim().to_owned()).unwrap_or_default()
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|name| name.trim().to_owned()).unwrap_or_default()
}
