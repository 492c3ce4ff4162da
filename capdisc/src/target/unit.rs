//! A systemd unit's cgroup, asked of systemd itself (`systemctl show`): traced in place without a
//! restart, or (`--restart`) from the service's own exec: capdisc stops the unit, creates its
//! cgroup so the kernel filter knows it before the first task arrives, starts the unit, and
//! afterwards puts it back as it was. `--permissive` adds a temporary runtime drop-in lifting
//! the capability restrictions, so every check the service makes is visible and granted.
use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use super::cgroup::{cgroup2_mount, Cgroup};
use crate::error::Error;

/// Name of the temporary drop-in, under /run/systemd/system/UNIT.d/ (sorts after every other).
pub const PERMISSIVE_DROPIN: &str = "zz-capdisc-permissive.conf";

pub use crate::systemd::unit_name as canonical_name;

fn require_systemd() -> Result<(), Error> {
    if !Path::new("/run/systemd/system").is_dir() {
        return Err(Error::Target(
            "systemd is not running on this host (no /run/systemd/system); record with --cgroup PATH or --pid PID instead".into(),
        ));
    }
    Ok(())
}

fn properties(unit: &str, keys: &[&str]) -> Result<HashMap<String, String>, Error> {
    let output = Command::new("systemctl")
        .arg("show")
        .arg(format!("--property={}", keys.join(",")))
        .arg(unit)
        .output()
        .map_err(|err| Error::Target(format!("cannot run systemctl: {err}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let values: HashMap<String, String> =
        text.lines().filter_map(|line| line.split_once('=')).map(|(key, value)| (key.to_owned(), value.to_owned())).collect();
    if !output.status.success() || values.get("LoadState").is_some_and(|state| state == "not-found") {
        return Err(Error::Target(format!("unit {unit} does not exist; list units with `systemctl list-unit-files`")));
    }
    Ok(values)
}

pub fn resolve_cgroup(name: &str) -> Result<Cgroup, Error> {
    require_systemd()?;
    let unit = canonical_name(name);
    let values = properties(&unit, &["LoadState", "ActiveState", "ControlGroup"])?;
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

/// A unit capdisc restarted, and how to put it back.
#[derive(Debug)]
pub struct Restart {
    unit: String,
    was_active: bool,
    permissive_dropin: Option<PathBuf>,
}

/// Stops the unit (after writing the permissive drop-in, if asked) and creates its cgroup.
pub fn prepare_restart(name: &str, permissive: bool) -> Result<(Cgroup, Restart), Error> {
    require_systemd()?;
    let unit = canonical_name(name);
    let values = properties(&unit, &["LoadState", "ActiveState", "Slice", "User", "DynamicUser"])?;
    let was_active = matches!(values.get("ActiveState").map(String::as_str), Some("active" | "activating" | "reloading"));
    let mut restart = Restart { unit: unit.clone(), was_active, permissive_dropin: None };
    if permissive {
        let non_root = values.get("DynamicUser").is_some_and(|v| v == "yes")
            || values.get("User").is_some_and(|user| !user.is_empty() && user != "root" && user != "0");
        restart.permissive_dropin = Some(write_permissive_dropin(&unit, non_root)?);
        systemctl(&["daemon-reload"])?;
    }
    systemctl(&["stop", &unit])?;
    let slice = values.get("Slice").cloned().unwrap_or_else(|| "system.slice".into());
    let mount = cgroup2_mount()?;
    let path = mount.join(slice_path(&slice)).join(&unit);
    fs::create_dir_all(&path).map_err(|err| Error::Kernel(format!("cannot create the unit's cgroup {}: {err}", path.display())))?;
    Ok((Cgroup::open_user_path(&path)?, restart))
}

impl Restart {
    /// Starts the unit (after the kernel side is armed).
    pub fn start(&self) -> Result<(), Error> {
        systemctl(&["start", "--no-block", &self.unit])
    }

    /// Removes the permissive drop-in and puts the unit back as it was (restarted if it was
    /// running, stopped otherwise). Returns what it did, for the terminal.
    pub fn finish(&self) -> Result<String, Error> {
        let mut done = Vec::new();
        if let Some(dropin) = &self.permissive_dropin {
            let _ = fs::remove_file(dropin);
            let _ = dropin.parent().map(fs::remove_dir);
            systemctl(&["daemon-reload"])?;
            done.push(format!("removed {}", dropin.display()));
        }
        if self.was_active {
            systemctl(&["restart", &self.unit])?;
            done.push(format!("restarted {} as it was", self.unit));
        } else {
            systemctl(&["stop", &self.unit])?;
            done.push(format!("left {} stopped, as it was", self.unit));
        }
        Ok(done.join("; "))
    }
}

fn write_permissive_dropin(unit: &str, non_root: bool) -> Result<PathBuf, Error> {
    let dir = Path::new("/run/systemd/system").join(format!("{unit}.d"));
    fs::create_dir_all(&dir).map_err(|source| Error::Output { path: dir.clone(), source })?;
    let path = dir.join(PERMISSIVE_DROPIN);
    let mut text = String::from(
        "# Written by `capdisc record --permissive` for the length of a recording; removed when it ends.\n\
         # It lifts the capability restrictions so every check the service makes is visible and granted.\n\
         [Service]\nCapabilityBoundingSet=~\n",
    );
    if non_root {
        text.push_str("AmbientCapabilities=~\n");
    }
    crate::profile::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// `a-b.slice` -> `a.slice/a-b.slice` (systemd's slice nesting); `-.slice` is the root.
pub fn slice_path(slice: &str) -> PathBuf {
    let Some(stem) = slice.strip_suffix(".slice") else { return PathBuf::from(slice) };
    if stem == "-" || stem.is_empty() {
        return PathBuf::new();
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    path
}

fn systemctl(args: &[&str]) -> Result<(), Error> {
    let output = Command::new("systemctl").args(args).output().map_err(|err| Error::Runtime(format!("cannot run systemctl: {err}")))?;
    if !output.status.success() {
        return Err(Error::Runtime(format!("systemctl {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::slice_path;

    #[test]
    fn nests_slices_like_systemd() {
        assert_eq!(slice_path("system.slice"), std::path::PathBuf::from("system.slice"));
        assert_eq!(slice_path("user-1000.slice"), std::path::PathBuf::from("user.slice/user-1000.slice"));
        assert_eq!(slice_path("-.slice"), std::path::PathBuf::new());
    }
}
