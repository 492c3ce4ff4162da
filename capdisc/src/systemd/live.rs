//! systemd's own view of a unit on a live system (`systemctl show`): what it really parsed,
//! which is what counts (it drops unknown capability names silently).
use std::{path::Path, process::Command};

use crate::{caps, error::Error};

pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveView {
    pub bounding: u64,
    pub ambient: u64,
    pub user: String,
    pub dynamic_user: bool,
    pub load_state: String,
}

pub fn live_view(unit: &str) -> Result<LiveView, Error> {
    let output = Command::new("systemctl")
        .args(["show", "-p", "CapabilityBoundingSet", "-p", "AmbientCapabilities", "-p", "User", "-p", "DynamicUser", "-p", "LoadState", unit])
        .output()
        .map_err(|err| Error::Runtime(format!("cannot run systemctl: {err}")))?;
    if !output.status.success() {
        return Err(Error::Runtime(format!("systemctl show {unit} failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let get = |key: &str| text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('=')).unwrap_or("").to_owned();
    let view = LiveView {
        bounding: names_mask(&get("CapabilityBoundingSet")),
        ambient: names_mask(&get("AmbientCapabilities")),
        user: get("User"),
        dynamic_user: get("DynamicUser") == "yes",
        load_state: get("LoadState"),
    };
    if view.load_state == "not-found" {
        return Err(Error::Usage(format!("unit {unit} does not exist; list units with `systemctl list-unit-files`")));
    }
    Ok(view)
}

/// `cap_chown cap_kill` (systemctl's spelling) to a mask.
pub fn names_mask(text: &str) -> u64 {
    text.split_whitespace().filter_map(caps::number).filter(|cap| *cap < 64).fold(0, |mask, cap| mask | 1 << cap)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_systemctls_spelling() {
        assert_eq!(super::names_mask("cap_chown cap_net_bind_service"), 1 | 1 << 10);
        assert_eq!(super::names_mask(""), 0);
    }
}
