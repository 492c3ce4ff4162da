//! A systemd unit's cgroup, asked of systemd itself (`systemctl show`), so a live service can be
//! traced in place without a restart.
use std::{path::Path, process::Command};

use super::cgroup::{cgroup2_mount, Cgroup};
use crate::error::Error;

/// `app` -> `app.service`; names with a unit suffix are kept.
pub fn canonical_name(name: &str) -> String {
    if name.contains('.') { name.to_owned() } else { format!("{name}.service") }
}

pub fn resolve_cgroup(name: &str) -> Result<Cgroup, Error> {
    if !Path::new("/run/systemd/system").is_dir() {
        return Err(Error::Target(
            "systemd is not running on this host (no /run/systemd/system); record with --cgroup PATH or --pid PID instead".into(),
        ));
    }
    let unit = canonical_name(name);
    let output = Command::new("systemctl")
        .args(["show", "--property=LoadState,ActiveState,ControlGroup", &unit])
        .output()
        .map_err(|err| Error::Target(format!("cannot run systemctl: {err}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let property = |key: &str| {
        text.lines().find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix('='))).unwrap_or("").to_owned()
    };
    if property("LoadState") == "not-found" || !output.status.success() {
        return Err(Error::Target(format!("unit {unit} does not exist; list units with `systemctl list-units`")));
    }
    let control_group = property("ControlGroup");
    if control_group.is_empty() {
        return Err(Error::Target(format!(
            "unit {unit} is {} and has no cgroup; start it first (`systemctl start {unit}`)",
            property("ActiveState")
        )));
    }
    let mount = cgroup2_mount()?;
    Cgroup::open_user_path(&mount.join(control_group.trim_start_matches('/')))
}
