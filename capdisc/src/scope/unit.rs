//! A systemd unit as a recording target: its cgroup, traced in place, or (`--restart`) created
//! by capdisc before the unit starts, so the kernel filter knows it before the first task
//! arrives. Everything systemd-specific (asking systemd, stopping and restoring the unit, the
//! permissive drop-in) is `systemd`'s.
use std::fs;

use crate::host::Cgroup;
use crate::kernel::cgroup2_mount;
use crate::{
    error::Error,
    systemd::{refuse_leftovers, require_running, show, slice_path, unit_name, RuntimeChange, UnitRestart},
};

pub fn resolve_cgroup(name: &str) -> Result<Cgroup, Error> {
    require_running()?;
    let unit = unit_name(name);
    let values = show(&unit, &["ActiveState", "ControlGroup"])?;
    // A leftover permissive drop-in means the service may run with every capability: recording
    // it would describe that, not the service.
    refuse_leftovers(&unit)?;
    let control_group = values.get("ControlGroup").cloned().unwrap_or_default();
    if control_group.is_empty() {
        return Err(Error::Target(format!(
            "unit {unit} is {} and has no cgroup; start it, or record it from its start with --restart",
            values.get("ActiveState").map(String::as_str).unwrap_or("inactive")
        )));
    }
    let mount = cgroup2_mount()?;
    Cgroup::open_user_path(&mount.join(control_group.trim_start_matches('/')))
}

/// Stops the unit (see `UnitRestart`) and creates its cgroup.
pub fn prepare_restart(name: &str, change: &RuntimeChange) -> Result<(Cgroup, UnitRestart), Error> {
    let restart = UnitRestart::stop(name, change)?;
    let path = cgroup2_mount()?.join(slice_path(&restart.slice)).join(&restart.unit);
    if let Err(source) = fs::create_dir_all(&path) {
        let _ = restart.finish();
        return Err(Error::Kernel(format!("cannot create the unit's cgroup {}: {source}", path.display())));
    }
    match Cgroup::open_user_path(&path) {
        Ok(cgroup) => Ok((cgroup, restart)),
        Err(err) => {
            let _ = restart.finish();
            Err(err)
        }
    }
}
