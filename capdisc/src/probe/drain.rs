//! Reading everything the kernel programs kept: aggregated checks, sampled stacks, per-CPU
//! counters and executable paths. Turning them into a profile is `profile::build`'s job.
use std::collections::HashMap;

use aya::{
    maps::{HashMap as BpfHashMap, PerCpuArray, StackTraceMap},
    Ebpf,
};
use capdisc_common::{
    counter, ActivityKey, ActivityPathKey, CheckKey, CheckMemo, CheckStats, ExePath, PathKey, PathSample, RefusalKey, RefusalStats,
    COMM_LEN,
};

use crate::error::Error;

/// A key some CPU's memo holds, with the checks it has not flushed into `CHECKS` yet.
pub type Pending = (CheckKey, u64);
/// Aggregated checks as read back: key and what the kernel kept for it.
pub type Checks = Vec<(CheckKey, CheckStats)>;

#[derive(Default)]
pub struct Drained {
    /// Aggregated checks, the per-CPU memos' pending checks added.
    pub checks: Vec<(CheckKey, CheckStats)>,
    /// Keys some CPU's memo held, with the checks it had not flushed yet (already in `checks`).
    pub memo: Vec<Pending>,
    /// Stack id -> instruction pointers, innermost first.
    pub stacks: HashMap<u32, Vec<u64>>,
    /// `capdisc_common::counter` slots, summed over CPUs.
    pub counters: [u64; counter::SLOTS as usize],
    /// comm -> executable path.
    pub execs: HashMap<[u8; COMM_LEN], String>,
    /// (key, call-site slot) -> the path its system call named.
    pub paths: HashMap<(CheckKey, u32), String>,
    /// Sandbox refusals, when their programs were attached (`ProbeConfig::sandbox`).
    pub refusals: Vec<(RefusalKey, RefusalStats)>,
    /// What the target did that the sandboxing depends on (the same programs): system calls by
    /// number and detail, and paths, counted.
    pub activity: Vec<(ActivityKey, u64)>,
    pub activity_paths: Vec<(ActivityPathKey, u64)>,
}

/// Reads everything.
pub fn drain(ebpf: &Ebpf) -> Result<Drained, Error> {
    drain_new_stacks(ebpf, |_| false)
}

/// [`drain`], reading only the stacks `known` says the caller does not hold yet (`watch` keeps
/// every stack it has read: stack ids stay valid while the programs are loaded).
pub fn drain_new_stacks(ebpf: &Ebpf, known: impl Fn(u32) -> bool) -> Result<Drained, Error> {
    let (checks, memo) = checks_and_memo(ebpf)?;
    let mut drained = Drained { checks, memo, ..Drained::default() };
    let stack_ids: Vec<u32> = drained
        .checks
        .iter()
        .flat_map(|(_, stats)| stats.call_sites)
        .filter(|id| *id != 0)
        .map(|id| id - 1)
        .filter(|id| !known(*id))
        .collect();
    let stacks = StackTraceMap::try_from(map(ebpf, "STACKS")?).map_err(|err| Error::io("cannot open map STACKS", err))?;
    for id in stack_ids {
        if let Ok(trace) = stacks.get(&id, 0) {
            drained.stacks.insert(id, trace.frames().iter().map(|frame| frame.ip).collect());
        }
    }
    drained.counters = counters(ebpf)?;
    let execs: BpfHashMap<_, [u8; COMM_LEN], ExePath> =
        BpfHashMap::try_from(map(ebpf, "EXECS")?).map_err(|err| Error::io("cannot open map EXECS", err))?;
    for entry in execs.iter().flatten() {
        let (comm, exe) = entry;
        let len = (exe.len as usize).min(exe.path.len());
        let path = String::from_utf8_lossy(&exe.path[..len]).trim_end_matches('\0').to_owned();
        drained.execs.insert(comm, path);
    }
    let paths: BpfHashMap<_, PathKey, PathSample> =
        BpfHashMap::try_from(map(ebpf, "PATHS")?).map_err(|err| Error::io("cannot open map PATHS", err))?;
    for (key, sample) in paths.iter().flatten() {
        let len = (sample.len as usize).saturating_sub(1).min(sample.path.len());
        if len > 0 {
            drained.paths.insert((key.check, key.slot), String::from_utf8_lossy(&sample.path[..len]).into_owned());
        }
    }
    let refusals: BpfHashMap<_, RefusalKey, RefusalStats> =
        BpfHashMap::try_from(map(ebpf, "REFUSALS")?).map_err(|err| Error::io("cannot open map REFUSALS", err))?;
    drained.refusals = refusals.iter().flatten().collect();
    let activity: BpfHashMap<_, ActivityKey, u64> =
        BpfHashMap::try_from(map(ebpf, "ACTIVITY")?).map_err(|err| Error::io("cannot open map ACTIVITY", err))?;
    drained.activity = activity.iter().flatten().collect();
    let paths: BpfHashMap<_, ActivityPathKey, u64> =
        BpfHashMap::try_from(map(ebpf, "ACTIVITY_PATHS")?).map_err(|err| Error::io("cannot open map ACTIVITY_PATHS", err))?;
    drained.activity_paths = paths.iter().flatten().collect();
    Ok(drained)
}

/// Aggregated checks with the memos' pending counts added (cheap enough for the live status line).
pub fn checks(ebpf: &Ebpf) -> Result<Vec<(CheckKey, CheckStats)>, Error> {
    Ok(checks_and_memo(ebpf)?.0)
}

/// `CHECKS` with every CPU's memo added, and the memo entries. `CHECKS` is read before the
/// memos: a flush between the two reads can only make a pending count missing from this reading
/// (it shows in the next), never counted twice. With the backend stopped first
/// (`Probes::stop`), the reading is exact.
fn checks_and_memo(ebpf: &Ebpf) -> Result<(Checks, Vec<Pending>), Error> {
    let map_checks: BpfHashMap<_, CheckKey, CheckStats> =
        BpfHashMap::try_from(map(ebpf, "CHECKS")?).map_err(|err| Error::io("cannot open map CHECKS", err))?;
    let mut checks: HashMap<CheckKey, CheckStats> = map_checks.iter().flatten().collect();
    let memo = memo(ebpf)?;
    for (key, pending) in &memo {
        checks.entry(*key).or_default().count += pending;
    }
    Ok((checks.into_iter().collect(), memo))
}

/// Every CPU's memo that holds checks not yet in `CHECKS`: (key, pending).
fn memo(ebpf: &Ebpf) -> Result<Vec<Pending>, Error> {
    let array: PerCpuArray<_, CheckMemo> =
        PerCpuArray::try_from(map(ebpf, "MEMO")?).map_err(|err| Error::io("cannot open map MEMO", err))?;
    let values = array.get(&0, 0).map_err(|err| Error::io("cannot read map MEMO", err))?;
    Ok(values.iter().filter(|memo| memo.valid != 0 && memo.pending > 0).map(|memo| (memo.key, memo.pending)).collect())
}

pub fn counters(ebpf: &Ebpf) -> Result<[u64; counter::SLOTS as usize], Error> {
    let array: PerCpuArray<_, u64> =
        PerCpuArray::try_from(map(ebpf, "COUNTERS")?).map_err(|err| Error::io("cannot open map COUNTERS", err))?;
    let mut sums = [0u64; counter::SLOTS as usize];
    for (slot, sum) in sums.iter_mut().enumerate() {
        if let Ok(values) = array.get(&(slot as u32), 0) {
            *sum = values.iter().sum();
        }
    }
    Ok(sums)
}

fn map<'a>(ebpf: &'a Ebpf, name: &str) -> Result<&'a aya::maps::Map, Error> {
    ebpf.map(name).ok_or_else(|| Error::Runtime(format!("map {name} missing from the eBPF object")))
}

/// A kernel `comm` (NUL-padded bytes) as text.
pub fn comm_text(comm: &[u8]) -> String {
    let end = comm.iter().position(|byte| *byte == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}
