//! systemd, and all capdisc knows of it: naming rules, reading a unit's capability
//! configuration the way systemd does (unit file, drop-ins, merge rules, implicit drops),
//! systemd's own view on a live system, writing drop-ins, and restarting a unit for a recording.
mod capset;
mod dropin;
mod exposure;
mod implicit;
pub mod journal;
mod leftovers;
mod live;
mod lock;
mod names;
mod restart;
mod unit;

pub use capset::{all_caps, mask_names, mask_text, parse_assignment, CapSetBuilder};
pub use dropin::{
    apply_dropin, check_dropin, remove_runtime_dropin, revert_dropin, write_runtime_dropin, AppliedDropin, DROPIN_NAME, RUNTIME_DIR,
};
pub use exposure::{exposure, exposures_offline};
pub use implicit::IMPLICIT_DROPS;
pub use leftovers::{
    guard_unit, idle_enabled_sockets, leftover_error, leftovers, offline_leftovers, refuse_leftovers, refuse_offline_leftovers, restore,
    runtime_dropins, undo_after_death,
};
pub use live::{live_view, names_mask, property, require_running, show, systemctl, systemctl_within, systemd_running, LiveView};
pub use lock::UnitLock;
pub use names::{is_root_user, slice_path, unit_name, unit_of_cgroup_path};
pub use restart::{RuntimeChange, UnitRestart, PERMISSIVE_DROPIN, TRIAL_DROPIN};
pub use unit::{assignments, resolve, resolve_texts, service_assignments, Effective, UnitFiles};
