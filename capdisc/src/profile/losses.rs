//! What a recording could not keep, as one list of counters (`Losses`): each field with the
//! kernel counter slot it is read from, so reading, merging and reporting follow one table.
use serde::{Deserialize, Serialize};

/// The one list of loss counters: each field of [`Losses`] with the kernel counter slot it is
/// read from (`capdisc_common::counter`). Reading, merging and reporting all follow it.
macro_rules! losses {
    ($($(#[$doc:meta])* $field:ident = $slot:ident,)*) => {
        /// What could not be kept (all zero in a complete recording), and what was skipped on
        /// purpose.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Losses {
            $($(#[$doc])* #[serde(default)] pub $field: u64,)*
        }

        impl Losses {
            /// From the per-CPU counters summed over CPUs (indexed by slot).
            pub fn from_counters(counters: &[u64]) -> Self {
                let slot = |index: u32| counters.get(index as usize).copied().unwrap_or(0);
                Self { $($field: slot(capdisc_common::counter::$slot),)* }
            }

            /// Adds another recording's losses (`merge`).
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }

            /// Every counter by its schema name.
            pub fn entries(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

losses! {
    /// Checks of a new kind dropped because the aggregation map was full.
    checks_map_full = CHECKS_MAP_FULL,
    /// Call-site samples whose stack could not be stored.
    stacks_lost = STACK_LOST,
    /// Call-site samples dropped because a key already had its maximum of distinct call sites.
    call_site_slots_full = CALL_SITE_SLOTS_FULL,
    /// Forked children that could not be added to the traced pid set.
    pids_map_full = PIDS_MAP_FULL,
    /// kprobe entries that could not be remembered for their return.
    pending_map_full = PENDING_MAP_FULL,
    /// kretprobe returns without an entry.
    unpaired_returns = UNPAIRED_RETURN,
    /// Executable paths that could not be stored.
    execs_map_full = EXECS_MAP_FULL,
    /// Sampled system-call paths that could not be stored (the counts are exact).
    paths_map_full = PATHS_MAP_FULL,
    /// Not a loss: checks made by a spawned command before its exec, skipped on purpose.
    skipped_before_exec = BEFORE_EXEC,
}

/// Counters that are notes, not losses: every check was still counted (a key's call sites
/// beyond its 4 distinct examples; checks before a spawned command's exec, skipped on purpose).
pub const NOTES: [&str; 2] = ["call_site_slots_full", "skipped_before_exec"];

impl Losses {
    /// Counters that say something was not kept (checks, samples, paths), by schema name.
    pub fn lost_entries(&self) -> Vec<(&'static str, u64)> {
        self.entries().into_iter().filter(|(name, _)| !NOTES.contains(name)).collect()
    }

    /// Counters that are notes (see [`NOTES`]), by schema name.
    pub fn note_entries(&self) -> Vec<(&'static str, u64)> {
        self.entries().into_iter().filter(|(name, _)| NOTES.contains(name)).collect()
    }

    /// Checks that were lost: a profile with any is incomplete, and may miss a capability.
    pub fn lost_checks(&self) -> u64 {
        self.checks_map_full + self.pids_map_full + self.pending_map_full + self.unpaired_returns
    }

    /// Whether checks were lost (call-site samples and exe paths are details: counts stay exact).
    pub fn incomplete(&self) -> bool {
        self.lost_checks() > 0
    }

    /// Call-site samples not kept: every check was still counted, only some kernel stacks were
    /// not kept as examples.
    pub fn samples_not_kept(&self) -> u64 {
        self.stacks_lost + self.call_site_slots_full
    }

    /// One line naming what was lost, for refusals and reports.
    pub fn describe(&self) -> String {
        format!(
            "{} check(s) lost (aggregation map full {}, pid set full {}, kprobe pairing {}+{})",
            self.lost_checks(),
            self.checks_map_full,
            self.pids_map_full,
            self.pending_map_full,
            self.unpaired_returns
        )
    }
}
