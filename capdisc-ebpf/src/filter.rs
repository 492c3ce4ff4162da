//! Is the current task part of the target? One decision shared by every backend and by the
//! task-tracking programs. Returns the task's cgroup id when it is (the key's `cgroup_id`), with
//! the phase of the target's life its cgroup is in (the key's `phase`).
use aya_ebpf::helpers::{
    bpf_get_current_pid_tgid,
    generated::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_cgroup_id},
};
use capdisc_common::{cgroup_state, counter, mode};

use crate::maps::{bump, constant, CGROUPS, MODE, PIDS, SELF_TGID, SINGLE_CGROUP, SINGLE_STATE, TARGET_CGROUP_LEVEL};

/// In mode CGROUP the key carries the target cgroup (the ancestor at the target level), not the
/// task's own: one helper call fewer, and a target's keys stay together.
#[inline(always)]
pub fn current_target() -> Option<(u64, u32)> {
    target_of_current(true)
}

/// [`current_target`] for the system-call hooks: a target cgroup before its exec is no target,
/// without counting a check skipped (none was made).
#[inline(always)]
pub fn current_target_quietly() -> Option<(u64, u32)> {
    target_of_current(false)
}

#[inline(always)]
fn target_of_current(count_skips: bool) -> Option<(u64, u32)> {
    match constant(&MODE) {
        mode::CGROUP => {
            let level = constant(&TARGET_CGROUP_LEVEL) as i32;
            let ancestor = unsafe { bpf_get_current_ancestor_cgroup_id(level) };
            let single = constant(&SINGLE_CGROUP);
            if single != 0 {
                if ancestor != single {
                    return None;
                }
                return match SINGLE_STATE.get(0) {
                    Some(&state) if state >= cgroup_state::RECORDING => Some((ancestor, (state - cgroup_state::RECORDING) as u32)),
                    _ => {
                        if count_skips {
                            bump(counter::BEFORE_EXEC);
                        }
                        None
                    }
                };
            }
            match unsafe { CGROUPS.get(&ancestor) } {
                Some(&state) if state >= cgroup_state::RECORDING => Some((ancestor, (state - cgroup_state::RECORDING) as u32)),
                Some(_) => {
                    if count_skips {
                        bump(counter::BEFORE_EXEC);
                    }
                    None
                }
                None => None,
            }
        }
        mode::PIDS => {
            let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
            unsafe { PIDS.get(&tgid) }?;
            Some((unsafe { bpf_get_current_cgroup_id() }, 0))
        }
        _ => {
            // The whole host, but not capdisc itself.
            if (bpf_get_current_pid_tgid() >> 32) as u32 == constant(&SELF_TGID) {
                return None;
            }
            Some((unsafe { bpf_get_current_cgroup_id() }, 0))
        }
    }
}
