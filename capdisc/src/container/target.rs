//! A container as a resolved target: attached to a running one, restarted to be recorded from
//! its start, or run by capdisc from its run command (a recording or a proof's trial).
use crate::kernel::procfs;
use std::{cell::Cell, fs, io, path::PathBuf, process::Stdio};

use super::{docker, runtime::run_to_end, CapSetting, Container, ContainerRestart, Engine, RunCommand, Runtime};
use crate::{
    error::Error,
    host::{
        cgroup::{serial_name, Cgroup},
        spawn_in_cgroup,
    },
};

/// Where capdisc asks the runtime to write a run's container id.
pub(super) const CIDFILE_DIR: &str = "/run/capdisc/containers";

#[derive(Debug)]
pub enum ContainerTarget {
    Attached { container: Container, cgroup: Cgroup },
    Restarted { cgroup: Cgroup, restart: ContainerRestart },
    Run(ContainerRun),
}

/// A container capdisc runs: its client (the `podman run` process, outside the target), the
/// cgroup capdisc made for the container (`--cgroup-parent`), and where its id is written.
#[derive(Debug)]
pub struct ContainerRun {
    pub runtime: Runtime,
    pub argv: Vec<String>,
    pub cgroup: Cgroup,
    /// A rootless run's delegated cgroup (the target's parent) and the client's cgroup beside
    /// the target (`Cgroup::create_delegated`).
    delegated: Option<(Cgroup, Cgroup)>,
    cidfile: PathBuf,
    written: String,
    /// A trial's container (named after its cgroup), or one whose command removes it (`--rm`):
    /// removed when the run ends.
    remove: bool,
    trial: bool,
    /// A trial's container name (`capdisc-PID-N`): found by it even before its id is written.
    trial_name: Option<String>,
    /// The runtime was told to stop (and remove) the container.
    ended: Cell<bool>,
    /// A docker run's container was seen running in `cgroup` (docker places it by its own
    /// settings; capdisc made the cgroup they name): no more checks needed.
    placed: Cell<bool>,
}

impl ContainerRun {
    /// `trial`: named after its cgroup (`capdisc-PID-N`, which the guardian sweeps) and removed
    /// at its end, whatever the command says.
    pub fn prepare(run: &RunCommand, caps: CapSetting, trial: bool) -> Result<Self, Error> {
        fs::create_dir_all(CIDFILE_DIR).map_err(|err| Error::io(format!("cannot create {CIDFILE_DIR}"), err))?;
        if run.runtime.engine == Engine::Docker {
            return Self::prepare_docker(run, caps, trial);
        }
        let session = run.runtime.rootless_session()?;
        let (cgroup, delegated) = match &session {
            Some(user) => {
                let (parent, client, container) = Cgroup::create_delegated(user.run_as.uid, user.run_as.gid)?;
                (container, Some((parent, client)))
            }
            None => (Cgroup::create_leaf()?, None),
        };
        // Named after the cgroup capdisc made (its delegated parent for a rootless run).
        let made = delegated.as_ref().map_or(&cgroup, |(parent, _)| parent);
        let name = made.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let cidfile = match &session {
            // The user's runtime writes the id (and refuses a file that exists): in a directory
            // of the user's own.
            Some(user) => {
                let dir = PathBuf::from(CIDFILE_DIR).join(&name);
                let made =
                    fs::create_dir_all(&dir).and_then(|()| std::os::unix::fs::chown(&dir, Some(user.run_as.uid), Some(user.run_as.gid)));
                if let Err(err) = made {
                    // Nothing made for the run outlives its failure to start.
                    let _ = fs::remove_dir(&dir);
                    let _ = delegated.as_ref().map(|(parent, _)| parent.kill_and_remove());
                    return Err(Error::io(format!("cannot prepare {}", dir.display()), err));
                }
                dir.join("cid")
            }
            None => PathBuf::from(CIDFILE_DIR).join(format!("{name}.cid")),
        };
        let _ = fs::remove_file(&cidfile);
        let argv = run.argv(caps, trial.then_some(name.as_str()), &format!("/{}", cgroup.relative), &cidfile.to_string_lossy());
        Ok(Self { delegated, ..Self::new(run, trial, name, argv, cgroup, cidfile) })
    }

    /// A run of `run` by `argv`, its container in `cgroup` and its id written to `cidfile`;
    /// `name` is a trial's container name (`capdisc-PID-N`).
    fn new(run: &RunCommand, trial: bool, name: String, argv: Vec<String>, cgroup: Cgroup, cidfile: PathBuf) -> Self {
        Self {
            runtime: run.runtime,
            argv,
            cgroup,
            delegated: None,
            cidfile,
            written: run.describe(),
            remove: trial || run.removes_itself(),
            trial,
            trial_name: trial.then_some(name),
            ended: Cell::new(false),
            // podman honours --cgroup-parent; docker places a container by its own settings.
            placed: Cell::new(run.runtime.engine != Engine::Docker),
        }
    }

    /// A docker run: the container created (named `capdisc-PID-N` for a trial), its cgroup made
    /// where docker will start it (`docker::cgroup_of`), and `docker start` as the client.
    fn prepare_docker(run: &RunCommand, caps: CapSetting, trial: bool) -> Result<Self, Error> {
        let name = serial_name("");
        let cidfile = PathBuf::from(CIDFILE_DIR).join(format!("{name}.cid"));
        let _ = fs::remove_file(&cidfile);
        let create = run.docker_create(caps, trial.then_some(name.as_str()), &cidfile.to_string_lossy());
        let mut command = std::process::Command::new(&create[0]);
        let created = run_to_end(command.args(&create[1..]), &create.join(" "))
            .and_then(|_| read_id(&cidfile).ok_or_else(|| Error::Target(format!("`{}` failed: no id written", create.join(" ")))));
        let id = match created {
            Ok(id) => id,
            Err(err) => {
                let _ = fs::remove_file(&cidfile);
                return Err(err);
            }
        };
        let cgroup = match docker::cgroup_of(&id).and_then(|path| Cgroup::create_at(&path)) {
            Ok(cgroup) => cgroup,
            Err(err) => {
                // Nothing made for the run outlives its failure to start.
                let _ = run.runtime.run(&["rm", "-f", &id]);
                let _ = fs::remove_file(&cidfile);
                return Err(err);
            }
        };
        Ok(Self::new(run, trial, name, run.docker_start(&id), cgroup, cidfile))
    }

    /// The container's id once the runtime wrote it, or a trial's name (the client may have
    /// ended between creating the container and writing its id).
    fn id(&self) -> Option<String> {
        self.written_id().or_else(|| self.trial_name.clone())
    }

    fn written_id(&self) -> Option<String> {
        read_id(&self.cidfile)
    }

    /// Err when the container runs outside the cgroup capdisc made for it: docker put it where
    /// settings capdisc did not read say (a `--cgroup-parent` on dockerd's command line), and
    /// nothing of it would be recorded. Asks the runtime until the container is seen running.
    fn check_placed(&self) -> Result<(), Error> {
        if self.placed.get() || self.ended.get() {
            return Ok(());
        }
        let Some(id) = self.written_id() else { return Ok(()) };
        let Ok(state) = self.runtime.run(&["container", "inspect", "--format", "{{.State.Running}} {{.State.Pid}}", &id]) else {
            return Ok(());
        };
        let Some(pid) = state.strip_prefix("true ").and_then(|pid| pid.trim().parse::<u32>().ok()).filter(|pid| *pid != 0) else {
            return Ok(());
        };
        let Some(actual) = procfs::cgroup_path(procfs::Proc::Pid(pid)) else { return Ok(()) };
        if under(&actual, &self.cgroup.relative) {
            self.placed.set(true);
            return Ok(());
        }
        Err(Error::Target(format!(
            "docker started the container in {actual}, not in {} where capdisc records it (the daemon places containers by settings capdisc did not read: a --cgroup-parent on dockerd's command line?); put its cgroup-parent in /etc/docker/daemon.json, or record the running container with --container",
            self.cgroup.relative
        )))
    }

    /// The container's exit status, once it stopped.
    pub fn exit_code(&self) -> Option<i32> {
        let id = self.id()?;
        let state = self.runtime.run(&["container", "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", &id]).ok()?;
        match state.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["false", code] => code.parse().ok(),
            _ => None,
        }
    }

    /// Has the runtime stop the container (its stop signal, then SIGKILL after 5 s), without
    /// waiting: the client exits when it has.
    fn ask_to_stop(&self) {
        if let (Some(id), Ok(command)) = (self.id(), self.runtime.command()) {
            let _ = tokio::process::Command::from(command)
                .args(["stop", "-t", "5", &id])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
    }

    /// Stops (and, for a trial, removes) the container; what runs in its cgroup is killed. Once:
    /// a trial ends it with its trial (`kill_leftovers`), and `finish` would again.
    fn end(&self) {
        if self.ended.replace(true) {
            return;
        }
        if let Some(id) = self.id() {
            let _ = if self.remove { self.runtime.run(&["rm", "-f", &id]) } else { self.runtime.run(&["stop", "-t", "5", &id]) };
        }
        self.delegated.as_ref().map_or(&self.cgroup, |(parent, _)| parent).kill_all();
    }
}

/// The container id a runtime wrote to `cidfile`, once it did.
fn read_id(cidfile: &std::path::Path) -> Option<String> {
    fs::read_to_string(cidfile).ok().map(|id| id.trim().to_owned()).filter(|id| !id.is_empty())
}

/// Whether cgroup path `path` is `cgroup` or below it.
fn under(path: &str, cgroup: &str) -> bool {
    path.strip_prefix(cgroup).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl ContainerTarget {
    /// See [`ContainerRun::check_placed`]; nothing to check for other containers.
    pub fn check_placed(&self) -> Result<(), Error> {
        match self {
            ContainerTarget::Run(run) => run.check_placed(),
            _ => Ok(()),
        }
    }

    pub fn cgroup(&self) -> &Cgroup {
        match self {
            ContainerTarget::Attached { cgroup, .. } | ContainerTarget::Restarted { cgroup, .. } => cgroup,
            ContainerTarget::Run(run) => &run.cgroup,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ContainerTarget::Attached { container, cgroup } => {
                format!("container {} ({}, cgroup {})", container.name, container.runtime.describe(), cgroup.relative)
            }
            ContainerTarget::Restarted { cgroup, restart, .. } => format!(
                "container {} ({}, cgroup {}) from its restart",
                restart.container.name,
                restart.container.runtime.describe(),
                cgroup.relative
            ),
            ContainerTarget::Run(run) => match run.runtime.user {
                Some(_) => format!("container run: {} ({}, cgroup {})", run.written, run.runtime.describe(), run.cgroup.relative),
                None => format!("container run: {} (cgroup {})", run.written, run.cgroup.relative),
            },
        }
    }

    pub fn runtime(&self) -> Runtime {
        self.identity().0
    }

    /// The container's runtime, name (a trial's; none for a recorded run) and id (once written).
    pub fn identity(&self) -> (Runtime, Option<String>, Option<String>) {
        match self {
            ContainerTarget::Attached { container, .. }
            | ContainerTarget::Restarted { restart: ContainerRestart { container, .. }, .. } => {
                (container.runtime, Some(container.name.clone()), Some(container.id.clone()))
            }
            ContainerTarget::Run(run) => (run.runtime, run.trial_name.clone(), run.written_id()),
        }
    }

    /// The command of the client that runs the container, for a run.
    pub fn client(&self) -> Option<&[String]> {
        match self {
            ContainerTarget::Run(run) => Some(&run.argv),
            _ => None,
        }
    }

    /// Starts the client that runs the container (after the kernel side is armed), for a run:
    /// root's where capdisc runs, a rootless user's as that user in the delegated `client`
    /// cgroup. A trial's output is not shown (a detached run prints the container's id).
    pub fn spawn_client(&self) -> Option<io::Result<tokio::process::Child>> {
        let ContainerTarget::Run(run) = self else { return None };
        let quiet = |command: &mut tokio::process::Command| {
            if run.trial {
                command.stdout(Stdio::null());
            }
        };
        Some(match (&run.delegated, run.runtime.rootless_session()) {
            (_, Err(err)) => Err(io::Error::other(err.to_string())),
            (Some((_, client)), Ok(Some(user))) => spawn_in_cgroup(&run.argv, client, Some(&user.run_as), None, |command| {
                quiet(command);
                user.prepare(command.as_std_mut());
            }),
            _ => {
                let mut client = tokio::process::Command::new(&run.argv[0]);
                client.args(&run.argv[1..]);
                quiet(&mut client);
                client.spawn()
            }
        })
    }

    pub fn launch(&self) -> Result<(), Error> {
        match self {
            ContainerTarget::Restarted { restart, .. } => restart.start(),
            _ => Ok(()),
        }
    }

    /// After the session: a run's container stopped (removed when a trial's or `--rm`) and its
    /// cgroup removed. A restarted container runs on, as it did before, and is started again if
    /// the session ended before it could (the probes would not load, a signal).
    pub fn finish(&self) -> Result<(), Error> {
        match self {
            ContainerTarget::Run(run) => {
                run.end();
                match &run.delegated {
                    Some((parent, _)) => parent.kill_and_remove()?,
                    None => run.cgroup.kill_and_remove()?,
                }
                let _ = fs::remove_file(&run.cidfile);
                if run.delegated.is_some() {
                    let _ = run.cidfile.parent().map(fs::remove_dir);
                }
            }
            ContainerTarget::Restarted { restart, .. } => {
                let running = Container::inspect(&restart.container.id, Some(restart.container.runtime)).is_ok_and(|now| now.running);
                if !running {
                    restart.start()?;
                }
            }
            ContainerTarget::Attached { .. } => {}
        }
        Ok(())
    }

    /// A run's container is asked to stop (the recording is ending).
    pub fn ask_to_stop(&self) {
        if let ContainerTarget::Run(run) = self {
            run.ask_to_stop();
        }
    }

    /// A trial's container ends with its trial.
    pub fn kill_leftovers(&self) {
        if let ContainerTarget::Run(run) = self {
            run.end();
        }
    }

    pub fn alive(&self) -> bool {
        match self {
            ContainerTarget::Run(_) => true,
            _ => self.cgroup().path.is_dir(),
        }
    }

    pub fn main_pid(&self) -> Option<u32> {
        let (runtime, name, id) = self.identity();
        Container::inspect(&id.or(name)?, Some(runtime)).ok().filter(|now| now.running && now.pid != 0).map(|now| now.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn a_container_is_placed_only_in_the_cgroup_or_below() {
        assert!(under("/system.slice/docker-ab.scope", "/system.slice/docker-ab.scope"));
        assert!(under("/capdisc-7-1/libpod-ab.scope/container", "/capdisc-7-1"));
        assert!(!under("/system.slice/docker-abc.scope", "/system.slice/docker-ab"));
        assert!(!under("/ops.slice/docker-ab.scope", "/system.slice/docker-ab.scope"));
    }
}
