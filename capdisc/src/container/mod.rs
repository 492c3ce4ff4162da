//! Containers as targets. A container's processes live in the cgroup its runtime makes for it
//! (`/machine.slice/libpod-ID.scope/container` for podman under systemd), not in capdisc's, so
//! `record -- podman run ...` would see the client and not the service. Three ways in:
//! - `--container NAME` attaches to a running podman or docker container: its cgroup from its
//!   init process (the runtime's inspect output names it);
//! - `--container NAME --restart` records it from its start: stopped, its cgroup made by capdisc
//!   before the runtime starts it again (as for a unit), so the kernel filter knows it first;
//! - a run command (`-- podman run ...`, and every trial of a proof) runs under a cgroup capdisc
//!   made (`--cgroup-parent`, podman told to manage cgroups itself), named `capdisc-PID-N` so the
//!   guardian removes the container and its cgroup if capdisc dies.
//!
//! The runtime's own work in the container's cgroup (crun or runc setting up namespaces,
//! credentials and capabilities before the container's command is exec'd, conmon, and the same
//! for `podman exec`) is set-up, never a need: `classify::setup_reason` knows its processes.
use crate::kernel::procfs;
mod docker;
mod run_command;
mod runtime;
mod target;

use std::{fs, path::PathBuf};

use serde_json::Value;

pub use run_command::{CapSetting, RunCommand, Switches, USER_NOT_FOR_CONTAINERS};
pub use runtime::{user_name, Engine, Runtime};
pub use target::{ContainerRun, ContainerTarget};

use crate::host::Cgroup;
use crate::{error::Error, guardian::Guardian, kernel::cgroup2_mount};

/// A container as its runtime describes it.
#[derive(Clone, Debug)]
pub struct Container {
    pub runtime: Runtime,
    pub id: String,
    pub name: String,
    pub running: bool,
    /// Its init process (0 when it does not run).
    pub pid: u32,
    /// The command that created it (podman keeps it; docker does not).
    pub create_command: Option<Vec<String>>,
}

impl Container {
    /// Asks `runtime` (or podman, then docker) about `name` (a name or id).
    pub fn inspect(name: &str, runtime: Option<Runtime>) -> Result<Self, Error> {
        let runtimes = match runtime {
            Some(runtime) => vec![runtime],
            None => vec![Runtime::PODMAN, Runtime::DOCKER],
        };
        let mut why = Vec::new();
        for runtime in runtimes {
            match runtime.run(&["container", "inspect", "--format", "json", name]).or_else(|_| runtime.run(&["container", "inspect", name]))
            {
                Ok(text) => return Self::from_inspect(runtime, &text),
                Err(err) => why.push(err.to_string()),
            }
        }
        Err(Error::Target(format!("no container {name}: {}", why.join("; "))))
    }

    fn from_inspect(runtime: Runtime, text: &str) -> Result<Self, Error> {
        let parsed: Value = serde_json::from_str(text)
            .map_err(|err| Error::Runtime(format!("{} inspect printed what capdisc cannot read: {err}", runtime.program())))?;
        let item = parsed.get(0).unwrap_or(&parsed);
        let text_of = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let state = &item["State"];
        let create_command = item["Config"]["CreateCommand"]
            .as_array()
            .map(|words| words.iter().map(text_of).collect::<Vec<_>>())
            .filter(|words| !words.is_empty());
        Ok(Container {
            runtime,
            id: text_of(&item["Id"]),
            name: text_of(&item["Name"]).trim_start_matches('/').to_owned(),
            running: state["Running"].as_bool().unwrap_or(false),
            pid: state["Pid"].as_u64().unwrap_or(0) as u32,
            create_command,
        })
    }

    /// The cgroup the runtime made for the running container: the outermost one, on its init
    /// process's path, whose name holds the container's id (podman's `libpod-ID.scope` above its
    /// `container`, docker's `docker-ID.scope`), else the init process's own.
    pub fn cgroup_path(&self) -> Result<PathBuf, Error> {
        if !self.running || self.pid == 0 {
            return Err(Error::Target(format!(
                "container {} is not running; start it, or record its run command (-- {} run ...)",
                self.name,
                self.runtime.program()
            )));
        }
        let own = procfs::cgroup_path(procfs::Proc::Pid(self.pid)).ok_or_else(|| {
            Error::Kernel(format!(
                "cannot read the cgroup v2 path of container {}'s process {} (it exited, or has none); capdisc needs cgroup v2",
                self.name, self.pid
            ))
        })?;
        let parts: Vec<&str> = own.trim_matches('/').split('/').collect();
        let depth = parts.iter().position(|part| !self.id.is_empty() && part.contains(&self.id)).map(|at| at + 1).unwrap_or(parts.len());
        Ok(cgroup2_mount()?.join(parts[..depth].join("/")))
    }
}

/// A container capdisc stopped to record it from its start (`--container NAME --restart`),
/// guarded: if capdisc dies before it started the container again, its guardian does.
#[derive(Debug)]
pub struct ContainerRestart {
    pub container: Container,
    guardian: Guardian,
}

impl ContainerRestart {
    /// Stops the running container and makes its cgroup again, empty, before the runtime does:
    /// the kernel filter knows it before the container's first task.
    pub fn stop(container: Container) -> Result<(Cgroup, Self), Error> {
        let path = container.cgroup_path()?;
        let session = container.runtime.rootless_session()?;
        let guardian = Guardian::spawn_for_container(&format!("{}:{}", container.runtime.token(), container.id))?;
        let restart = ContainerRestart { container, guardian };
        restart.container.runtime.run(&["stop", &restart.container.id])?;
        // The runtime removes the cgroup as the container stops; a leftover is fine as it is.
        if let Err(source) = fs::create_dir_all(&path) {
            let _ = restart.start();
            return Err(Error::Kernel(format!("cannot create the container's cgroup {}: {source}", path.display())));
        }
        // A rootless container's scope is made by its user's service manager, which must own it.
        if let Some(user) = session {
            if let Err(err) = Cgroup::delegate_to(&path, user.run_as.uid, user.run_as.gid) {
                let _ = restart.start();
                return Err(err);
            }
        }
        match Cgroup::open_user_path(&path) {
            Ok(cgroup) => Ok((cgroup, restart)),
            Err(err) => {
                let _ = restart.start();
                Err(err)
            }
        }
    }

    pub fn start(&self) -> Result<(), Error> {
        self.container.runtime.run(&["start", &self.container.id]).map(drop)
    }
}

impl Drop for ContainerRestart {
    /// The container was started again (or could not be, which the guardian could not mend
    /// either): the guardian has nothing left to undo.
    fn drop(&mut self) {
        self.guardian.disarm();
    }
}

/// The guardian's sweep after capdisc `pid` died in a proof: every trial container it ran
/// (named `capdisc-PID-*`) removed, root's and `rootless`'s (a user's podman, when the trials
/// ran there).
pub fn remove_trial_containers(pid: u32, rootless: Option<Runtime>) -> Vec<String> {
    let prefix = format!("capdisc-{pid}-");
    let mut said = Vec::new();
    for runtime in [Runtime::PODMAN, Runtime::DOCKER].into_iter().chain(rootless) {
        let Ok(names) = runtime.run(&["ps", "-a", "--format", "{{.Names}}"]) else { continue };
        for name in names.lines().map(str::trim).filter(|name| name.starts_with(&prefix)) {
            // A docker trial's cgroup was made before its start: left, empty, if it never started.
            let made = (runtime.engine == Engine::Docker)
                .then(|| runtime.run(&["container", "inspect", "--format", "{{.Id}}", name]).ok())
                .flatten()
                .and_then(|id| docker::cgroup_of(id.trim()).ok());
            match runtime.run(&["rm", "-f", name]) {
                Ok(_) => said.push(format!("removed trial container {name}")),
                Err(err) => said.push(format!("could not remove trial container {name}: {err}")),
            }
            if let Some(path) = made {
                let _ = fs::remove_dir(path);
            }
        }
    }
    // Where the trials' ids were written (a file, or a rootless user's directory).
    for entry in fs::read_dir(target::CIDFILE_DIR).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
        }
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_output_of_podman_and_docker_is_read() {
        // Trimmed from podman 4.3.1's `container inspect --format json` in the systemd guest.
        let podman = r#"[{"Id": "29cd295d758b", "Name": "web", "State": {"Status": "running", "Running": true, "Pid": 4242},
            "Config": {"CreateCommand": ["podman", "run", "-d", "--name", "web", "--cap-add=all", "localhost/web"]}}]"#;
        let container = Container::from_inspect(Runtime::PODMAN, podman).expect("readable");
        assert_eq!((container.id.as_str(), container.name.as_str(), container.running, container.pid), ("29cd295d758b", "web", true, 4242));
        let command = container.create_command.expect("podman keeps it");
        assert_eq!(RunCommand::parse_with(&command, &Switches::known()).expect("valid").expect("a run").name().as_deref(), Some("web"));
        // docker names start with a slash and keep no create command.
        let docker = r#"[{"Id": "abc", "Name": "/api", "State": {"Running": false, "Pid": 0}, "Config": {"Cmd": ["serve"]}}]"#;
        let container = Container::from_inspect(Runtime::DOCKER, docker).expect("readable");
        assert_eq!((container.name.as_str(), container.running, container.create_command.is_none()), ("api", false, true));
        assert!(container.cgroup_path().expect_err("not running").to_string().contains("container api is not running"));
        assert!(Container::from_inspect(Runtime::DOCKER, "not json").is_err());
    }
}
