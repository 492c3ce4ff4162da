//! systemd's own view of a unit on a live system (`systemctl show`): what it really parsed,
//! which is what counts (it drops unknown capability names silently), and running `systemctl`.
use std::{collections::HashMap, path::Path, process::Command};

use super::names::is_root_user;
use crate::{caps, error::Error};

pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Fails with what to do instead when systemd is not the service manager here.
pub fn require_running() -> Result<(), Error> {
    if !systemd_running() {
        return Err(Error::Target(
            "systemd is not running on this host (no /run/systemd/system), so it has no units: name the service's processes instead (record, trace and watch take --cgroup PATH; record and trace --pid PID; verify and minimize its command, -- CMD)".into(),
        ));
    }
    Ok(())
}

/// `systemctl show --property=KEYS UNIT`; a unit systemd does not know is an error.
pub fn show(unit: &str, keys: &[&str]) -> Result<HashMap<String, String>, Error> {
    let mut keys = keys.to_vec();
    if !keys.contains(&"LoadState") {
        keys.push("LoadState");
    }
    let output = Command::new("systemctl")
        .arg("show")
        .arg(format!("--property={}", keys.join(",")))
        .arg(unit)
        .output()
        .map_err(|source| Error::io("cannot run systemctl", source))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let values: HashMap<String, String> =
        text.lines().filter_map(|line| line.split_once('=')).map(|(key, value)| (key.to_owned(), value.to_owned())).collect();
    if !output.status.success() || values.get("LoadState").is_some_and(|state| state == "not-found") {
        return Err(Error::Target(format!("unit {unit} does not exist; list units with `systemctl list-unit-files`")));
    }
    Ok(values)
}

/// One property of a unit as `systemctl show` gives it; empty when systemd does not say.
pub fn property(unit: &str, key: &str) -> String {
    show(unit, &[key]).ok().and_then(|mut values| values.remove(key)).unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveView {
    pub bounding: u64,
    pub ambient: u64,
    pub user: String,
    pub dynamic_user: bool,
    pub load_state: String,
}

impl LiveView {
    pub fn non_root(&self) -> bool {
        self.dynamic_user || !is_root_user(&self.user)
    }
}

pub fn live_view(unit: &str) -> Result<LiveView, Error> {
    let values = show(unit, &["CapabilityBoundingSet", "AmbientCapabilities", "User", "DynamicUser", "LoadState"])?;
    let get = |key: &str| values.get(key).cloned().unwrap_or_default();
    Ok(LiveView {
        bounding: names_mask(&get("CapabilityBoundingSet")),
        ambient: names_mask(&get("AmbientCapabilities")),
        user: get("User"),
        dynamic_user: get("DynamicUser") == "yes",
        load_state: get("LoadState"),
    })
}

/// Runs `systemctl ARGS`, failing with its own message.
pub fn systemctl(args: &[&str]) -> Result<(), Error> {
    let output = Command::new("systemctl").args(args).output().map_err(|source| Error::io("cannot run systemctl", source))?;
    if !output.status.success() {
        return Err(Error::Runtime(format!("systemctl {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(())
}

/// [`systemctl`] for a job it waits for (`reload`, `stop`, `start`), given at most `limit` and
/// never blocking the runtime: Err with the first line systemctl said, or the limit.
pub async fn systemctl_within(args: &[&str], limit: std::time::Duration) -> Result<(), String> {
    let child = tokio::process::Command::new("systemctl")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("cannot run systemctl: {err}"))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => Err(String::from_utf8_lossy(&output.stderr).trim().lines().next().unwrap_or("systemctl failed").to_owned()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("`systemctl {}` did not finish within {} s", args.join(" "), limit.as_secs_f64())),
    }
}

/// `cap_chown cap_kill` (systemctl's spelling) to a mask.
pub fn names_mask(text: &str) -> u64 {
    caps::mask_of(text.split_whitespace())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_systemctls_spelling() {
        assert_eq!(super::names_mask("cap_chown cap_net_bind_service"), 1 | 1 << 10);
        assert_eq!(super::names_mask(""), 0);
    }
}
