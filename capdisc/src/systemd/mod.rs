//! systemd: reading a unit's capability configuration the way systemd does (unit file, drop-ins,
//! merge rules, implicit drops), systemd's own view on a live system, and writing drop-ins.
mod capset;
mod dropin;
mod implicit;
mod live;
mod unit;

pub use capset::{all_caps, mask_names, mask_text, parse_assignment, CapSetBuilder};
pub use dropin::{apply_dropin, AppliedDropin, DROPIN_NAME};
pub use implicit::IMPLICIT_DROPS;
pub use live::{live_view, systemd_running, LiveView};
pub use unit::{resolve, unit_name, Effective, UnitFiles};
