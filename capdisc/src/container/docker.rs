//! Where docker puts a container's processes, known before it starts them: capdisc runs a docker
//! container by `docker create` then `docker start`, and makes the cgroup in between, so the
//! kernel filter knows it before the container's first task. (Docker's `--cgroup-parent` cannot
//! name a cgroup of capdisc's under its systemd driver, the default on cgroup v2: it takes only
//! a systemd slice, and puts the container in a scope of its own below.)
//!
//! Under the systemd driver a container `ID` runs in `PARENT/docker-ID.scope`, PARENT the
//! daemon's `cgroup-parent` slice (default `system.slice`) spelled out as systemd nests slices
//! (`a-b.slice` is `a.slice/a-b.slice`); under the cgroupfs driver in `PARENT/ID` (default
//! `/docker`).
use std::{fs, path::PathBuf};

use super::Runtime;
use crate::{error::Error, kernel::cgroup2_mount};

/// Where the daemon reads its settings (`dockerd --config-file`'s default).
const DAEMON_JSON: &str = "/etc/docker/daemon.json";

/// The cgroup docker will start the created container `id` in.
pub fn cgroup_of(id: &str) -> Result<PathBuf, Error> {
    let driver = Runtime::DOCKER.run(&["info", "--format", "{{.CgroupDriver}}"])?;
    let parent = fs::read_to_string(DAEMON_JSON).ok().and_then(|text| daemon_cgroup_parent(&text));
    Ok(cgroup2_mount()?.join(relative_cgroup(driver.trim(), parent.as_deref(), id)?))
}

/// The container's cgroup below the cgroup v2 root, for `driver` and the daemon's `parent`.
fn relative_cgroup(driver: &str, parent: Option<&str>, id: &str) -> Result<String, Error> {
    match driver {
        "systemd" => {
            let slice = parent.unwrap_or("system.slice");
            let nested = slice_path(slice)
                .ok_or_else(|| Error::Target(format!("docker's cgroup-parent `{slice}` in {DAEMON_JSON} is not a systemd slice name")))?;
            Ok(format!("{nested}docker-{id}.scope"))
        }
        "cgroupfs" => Ok(format!("{}/{id}", parent.unwrap_or("/docker").trim_matches('/'))),
        other => Err(Error::Target(format!(
            "docker reports the cgroup driver `{other}`, which capdisc does not know; it knows systemd and cgroupfs"
        ))),
    }
}

/// A slice as systemd nests it, ending in `/` (`a-b.slice`: `a.slice/a-b.slice/`; the root
/// slice `-.slice`: nothing). None for what is not a slice name.
fn slice_path(slice: &str) -> Option<String> {
    let stem = slice.strip_suffix(".slice")?;
    if stem == "-" {
        return Some(String::new());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") || stem.contains('/') {
        return None;
    }
    let mut path = String::new();
    for (at, _) in stem.match_indices('-').chain([(stem.len(), "")]) {
        path.push_str(&stem[..at]);
        path.push_str(".slice/");
    }
    Some(path)
}

/// The daemon's `cgroup-parent` setting, when its settings hold one.
fn daemon_cgroup_parent(text: &str) -> Option<String> {
    let settings: serde_json::Value = serde_json::from_str(text).ok()?;
    settings["cgroup-parent"].as_str().map(str::to_owned).filter(|parent| !parent.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_is_placed_as_docker_places_it() {
        // Measured: docker 26 under systemd on cgroup v2 puts a container in
        // /system.slice/docker-ID.scope; under cgroupfs in /docker/ID.
        assert_eq!(relative_cgroup("systemd", None, "ab12").expect("known"), "system.slice/docker-ab12.scope");
        assert_eq!(relative_cgroup("cgroupfs", None, "ab12").expect("known"), "docker/ab12");
        assert_eq!(
            relative_cgroup("systemd", Some("ops-web.slice"), "ab12").expect("a slice"),
            "ops.slice/ops-web.slice/docker-ab12.scope"
        );
        assert_eq!(relative_cgroup("cgroupfs", Some("/ops/web/"), "ab12").expect("a path"), "ops/web/ab12");
        assert_eq!(relative_cgroup("systemd", Some("-.slice"), "ab12").expect("the root slice"), "docker-ab12.scope");
        assert!(relative_cgroup("systemd", Some("/ops"), "ab12").expect_err("not a slice").to_string().contains("not a systemd slice"));
        assert!(relative_cgroup("none", None, "ab12").expect_err("unknown").to_string().contains("knows systemd and cgroupfs"));
        assert_eq!(slice_path("a--b.slice"), None);
        assert_eq!(daemon_cgroup_parent(r#"{"storage-driver": "vfs", "cgroup-parent": "ops.slice"}"#).as_deref(), Some("ops.slice"));
        assert_eq!(daemon_cgroup_parent(r#"{"storage-driver": "vfs"}"#), None);
        assert_eq!(daemon_cgroup_parent("not json"), None);
    }
}
