//! `watch`'s running totals, per target. The kernel aggregates exactly as for `record`; every
//! scan reads its maps, attributes each cgroup to a target, and folds the keys of cgroups that
//! are gone (a stopped or restarted unit, a finished container) into their target's totals,
//! deleting them from the kernel maps. So kernel memory holds live cgroups only, and userspace
//! one pile of distinct checks per target (the cgroup id dropped from their keys).
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::SystemTime,
};

use aya::Ebpf;
use capdisc_common::{counter, CheckKey, CheckStats, COMM_LEN};

use super::naming::Selector;
use crate::{
    error::Error,
    host::CgroupNames,
    kernel::kallsyms::Kallsyms,
    probe::{drain_new_stacks, forget_keys, reread, take_cgroup_names, Backend, Drained},
    profile::{self, Profile, RecordingMeta, TargetInfo},
};

/// Under `--all`, checks of a cgroup that came and went between two scans: its name was never
/// seen, so it counts here.
pub const UNNAMED: &str = "(unnamed cgroups)";

/// Distinct checks of one target: keys without their cgroup id, and the paths sampled with
/// their call sites (keyed by stack id, so piles from several cgroups line up).
#[derive(Clone, Default)]
struct Pile {
    checks: HashMap<CheckKey, CheckStats>,
    paths: HashMap<(CheckKey, u32), String>,
}

impl Pile {
    fn add(&mut self, key: &CheckKey, stats: &CheckStats, path_of_slot: impl Fn(u32) -> Option<String>) {
        let key = CheckKey { cgroup_id: 0, ..*key };
        for (slot, stack) in stats.call_sites.iter().enumerate().filter(|(_, stack)| **stack != 0) {
            if let Some(path) = path_of_slot(slot as u32) {
                self.paths.entry((key, *stack)).or_insert(path);
            }
        }
        let mine =
            self.checks.entry(key).or_insert(CheckStats { first_ns: stats.first_ns, last_ns: stats.last_ns, ..CheckStats::default() });
        mine.count += stats.count;
        mine.first_ns = mine.first_ns.min(stats.first_ns);
        mine.last_ns = mine.last_ns.max(stats.last_ns);
        for stack in stats.call_sites.iter().filter(|stack| **stack != 0) {
            if !mine.call_sites.contains(stack) {
                if let Some(free) = mine.call_sites.iter_mut().find(|slot| **slot == 0) {
                    *free = *stack;
                }
            }
        }
    }

    fn absorb(&mut self, other: &Pile) {
        for (key, stats) in &other.checks {
            self.add(key, stats, |slot| other.paths.get(&(*key, stats.call_sites[slot as usize])).cloned());
        }
    }

    fn count(&self) -> u64 {
        self.checks.values().map(|stats| stats.count).sum()
    }
}

/// One target's share.
pub struct TargetLedger {
    pub info: TargetInfo,
    /// What earlier runs of `watch` counted (its profile in the state directory).
    pub base: Option<Profile>,
    /// Keys of this target's cgroups that are gone.
    folded: Pile,
    /// Keys of its live cgroups, as of the last scan.
    live: Pile,
    /// When `watch` first saw the target (the start of its learning window).
    pub seen_at: SystemTime,
}

impl TargetLedger {
    /// Checks counted in this run (folded and live).
    pub fn run_checks(&self) -> u64 {
        self.folded.count() + self.live.count()
    }
}

pub struct Ledger {
    selectors: Vec<Selector>,
    /// The kernel filters by cgroup for exactly one target: a cgroup it never named is that one's.
    sole_target: Option<String>,
    known: CgroupNames,
    /// Names of gone cgroups no key needed at the last scan: forgotten if none needs them now.
    unused_names: HashSet<u64>,
    attribution: HashMap<u64, Option<String>>,
    stacks: HashMap<u32, Vec<u64>>,
    counters: [u64; counter::SLOTS as usize],
    execs: HashMap<[u8; COMM_LEN], String>,
    pub targets: BTreeMap<String, TargetLedger>,
    /// The targets that had a live cgroup at the last scan.
    pub live_targets: HashSet<String>,
    pub started: SystemTime,
    /// Keys the kernel map holds after the last scan (live cgroups of targets only).
    pub kernel_keys: usize,
    backend: Backend,
    selection: String,
}

impl Ledger {
    pub fn new(selectors: Vec<Selector>, bases: BTreeMap<String, Profile>, backend: Backend, selection: String) -> Self {
        let sole_target = match selectors.as_slice() {
            [Selector::Cgroup(path)] => Some(path.clone()),
            _ => None,
        };
        let started = SystemTime::now();
        let mut ledger = Self {
            selectors,
            sole_target,
            known: CgroupNames::scan(),
            unused_names: HashSet::new(),
            attribution: HashMap::new(),
            stacks: HashMap::new(),
            counters: [0; counter::SLOTS as usize],
            execs: HashMap::new(),
            targets: BTreeMap::new(),
            live_targets: HashSet::new(),
            started,
            kernel_keys: 0,
            backend,
            selection,
        };
        for selector in ledger.selectors.clone() {
            match selector {
                Selector::Unit(name) | Selector::Cgroup(name) => ledger.target_mut(&name),
                Selector::All => continue,
            };
        }
        for (name, base) in bases {
            ledger.target_mut(&name).base = Some(base);
        }
        // `known` is the live tree here: the targets there now.
        let live: Vec<u64> = ledger.known.ids().collect();
        ledger.live_targets = ledger.attribute_live(live);
        ledger
    }

    /// Losses and skips counted by the kernel in this run, summed over CPUs.
    pub fn counters(&self) -> &[u64] {
        &self.counters
    }

    fn target_mut(&mut self, name: &str) -> &mut TargetLedger {
        self.targets.entry(name.to_owned()).or_insert_with(|| TargetLedger {
            info: target_info(name, &self.selectors),
            base: None,
            folded: Pile::default(),
            live: Pile::default(),
            seen_at: SystemTime::now(),
        })
    }

    /// The targets with a live cgroup now (a new one, a unit that appeared, is picked up).
    fn attribute_live(&mut self, live: Vec<u64>) -> HashSet<String> {
        let mut targets = HashSet::new();
        for id in live {
            if let Some(target) = self.attribute(id) {
                self.target_mut(&target);
                targets.insert(target);
            }
        }
        targets
    }

    fn attribute(&mut self, id: u64) -> Option<String> {
        if let Some(known) = self.attribution.get(&id) {
            return known.clone();
        }
        let Some(path) = self.known.path(id).map(str::to_owned) else {
            // Never named: the sole cgroup target's (the kernel let it through), or unnamed.
            if let Some(sole) = &self.sole_target {
                return Some(sole.clone());
            }
            return self.selectors.contains(&Selector::All).then(|| UNNAMED.to_owned());
        };
        let target = self.selectors.iter().find_map(|selector| selector.target_of(&path));
        self.attribution.insert(id, target.clone());
        target
    }

    /// Reads the kernel maps once: live cgroups' keys become their targets' live piles, gone
    /// cgroups' keys are folded into their targets and deleted from the kernel, keys of cgroups
    /// that belong to no target are deleted. New targets (a unit that appeared) are picked up.
    pub fn scan(&mut self, ebpf: &mut Ebpf) -> Result<(), Error> {
        let drained = drain_new_stacks(ebpf, |id| self.stacks.contains_key(&id))?;
        // Names the kernel kept of cgroups made since the last scan (some already gone) first.
        for (id, path) in take_cgroup_names(ebpf)? {
            self.known.name(id, path);
        }
        let live_cgroups = CgroupNames::scan();
        self.known.absorb(&live_cgroups);
        for (id, frames) in &drained.stacks {
            self.stacks.entry(*id).or_insert_with(|| frames.clone());
        }
        self.live_targets = self.attribute_live(live_cgroups.ids().collect());
        let mut live: HashMap<String, Pile> = HashMap::new();
        let mut forget: Vec<CheckKey> = Vec::new();
        // A key some CPU's memo holds is counted live until the memo flushes it (see
        // `CheckMemo`); a gone cgroup's key no memo holds can gain nothing more: it is read
        // again (a flush between the two readings of the drain may have added to it) and folded.
        let in_memo: HashSet<CheckKey> = drained.memo.iter().map(|(key, _)| *key).collect();
        for (key, stats) in &drained.checks {
            let path_of_slot = |slot: u32| drained.paths.get(&(*key, slot)).cloned();
            match self.attribute(key.cgroup_id) {
                None => forget.push(*key),
                Some(target) if live_cgroups.contains(key.cgroup_id) || in_memo.contains(key) => {
                    live.entry(target).or_default().add(key, stats, path_of_slot)
                }
                Some(target) => {
                    let last = reread(ebpf, key)?.unwrap_or(*stats);
                    self.target_mut(&target).folded.add(key, &last, path_of_slot);
                    forget.push(*key);
                }
            }
        }
        forget_keys(ebpf, &forget)?;
        self.kernel_keys = drained.checks.len() - forget.len();
        // A gone cgroup whose keys are all folded needs its name no more (memory stays bounded
        // under churn), one scan later: its last checks may have come after this drain.
        let forgotten: HashSet<CheckKey> = forget.iter().copied().collect();
        let held: HashSet<u64> = drained.checks.iter().filter(|(key, _)| !forgotten.contains(key)).map(|(key, _)| key.cgroup_id).collect();
        let unused: HashSet<u64> = self.known.ids().filter(|id| !live_cgroups.contains(*id) && !held.contains(id)).collect();
        let done: HashSet<u64> = unused.intersection(&self.unused_names).copied().collect();
        self.known.retain(|id| !done.contains(id));
        self.attribution.retain(|id, _| !done.contains(id));
        self.unused_names = unused.difference(&done).copied().collect();
        for (name, target) in self.targets.iter_mut() {
            target.live = live.remove(name).unwrap_or_default();
        }
        self.counters = drained.counters;
        self.execs = drained.execs;
        Ok(())
    }

    /// The target's profile: what earlier runs counted (its base) merged with this run.
    pub fn profile(&self, name: &str, kallsyms: Option<&Kallsyms>) -> Option<Profile> {
        let target = self.targets.get(name)?;
        let mut pile = target.folded.clone();
        pile.absorb(&target.live);
        let mut drained = Drained { counters: self.counters, execs: self.execs.clone(), ..Drained::default() };
        for (key, stats) in &pile.checks {
            for (slot, stack) in stats.call_sites.iter().enumerate().filter(|(_, stack)| **stack != 0) {
                if let Some(frames) = self.stacks.get(&(stack - 1)) {
                    drained.stacks.insert(stack - 1, frames.clone());
                }
                if let Some(path) = pile.paths.get(&(*key, *stack)) {
                    drained.paths.insert((*key, slot as u32), path.clone());
                }
            }
            drained.checks.push((*key, *stats));
        }
        let run = profile::build(
            &drained,
            RecordingMeta {
                backend: self.backend,
                selection: self.selection.clone(),
                target: target.info.clone(),
                started: self.started,
                ended: SystemTime::now(),
                exit_status: None,
                per_cgroup: false,
                cgroup_names: &self.known,
                phased: false,
                // A watched unit may run with PrivateUsers=: its foreign checks count as they are.
                host_userns: false,
            },
            kallsyms,
        );
        Some(match &target.base {
            // Each run is one recording; forced because a resumed target is the same service by
            // construction, and its base never holds this run.
            Some(base) => profile::merge(&[("state".into(), base.clone()), ("run".into(), run.clone())], true).unwrap_or(run),
            None => run,
        })
    }
}

fn target_info(name: &str, selectors: &[Selector]) -> TargetInfo {
    let cgroup_target = selectors.iter().any(|selector| matches!(selector, Selector::Cgroup(path) if path == name));
    let mut info = TargetInfo {
        kind: crate::profile::TargetKind::Unit,
        description: format!("{name} (watched)"),
        command: None,
        pid: None,
        cgroup: None,
        unit: None,
        container: None,
    };
    if cgroup_target || name.contains('/') || name == UNNAMED {
        info.kind = crate::profile::TargetKind::Cgroup;
        info.cgroup = Some(name.to_owned());
    } else {
        info.unit = Some(name.to_owned());
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cgroup_id: u64) -> CheckKey {
        CheckKey { cgroup_id, cap: 5, ret: 0, syscall: 62, uid: 0, flags: 0, phase: 0, comm: *b"worker\0\0\0\0\0\0\0\0\0\0" }
    }

    #[test]
    fn piles_from_several_cgroups_add_up_without_their_cgroup_ids() {
        let mut pile = Pile::default();
        let first = CheckStats { count: 10, first_ns: 100, last_ns: 200, call_sites: [7, 0, 0, 0], ..CheckStats::default() };
        let second = CheckStats { count: 5, first_ns: 50, last_ns: 150, call_sites: [9, 7, 0, 0], ..CheckStats::default() };
        pile.add(&key(1), &first, |slot| (slot == 0).then(|| "/etc/a".to_owned()));
        pile.add(&key(2), &second, |slot| (slot == 0).then(|| "/etc/b".to_owned()));
        assert_eq!(pile.checks.len(), 1, "one key once the cgroup id is dropped");
        let stats = pile.checks[&key(0)];
        assert_eq!((stats.count, stats.first_ns, stats.last_ns), (15, 50, 200));
        assert_eq!(stats.call_sites, [7, 9, 0, 0], "call sites united, each once");
        // Paths follow their stack, whichever slot it had.
        assert_eq!(pile.paths[&(key(0), 7)], "/etc/a");
        assert_eq!(pile.paths[&(key(0), 9)], "/etc/b");
        let mut total = Pile::default();
        total.absorb(&pile);
        total.absorb(&pile);
        assert_eq!(total.count(), 30);
    }
}
