//! The target arguments shared by `record` and `trace`.
use std::path::PathBuf;

use clap::Args;

use crate::{
    container::{CapSetting, Engine, RunCommand, Runtime, USER_NOT_FOR_CONTAINERS},
    error::Error,
    host::RunAs,
    scope::TargetSpec,
    systemd::RuntimeChange,
};

#[derive(Args, Debug)]
#[group(id = "target", multiple = true)]
pub struct TargetArgs {
    /// This process, its threads and every descendant, including later ones.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Every task in this cgroup v2 directory and below.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// A running systemd unit, in place, without a restart.
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,
    /// A running podman or docker container (name or id), in place: its processes and what is
    /// exec'd into it (`podman exec`), the runtime's own set-up told apart.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// With --unit: stop the unit and record it from its start (its own exec), then put it back.
    /// With --container: stop the container and record it from its start (it runs on after).
    #[arg(long)]
    pub restart: bool,
    /// With --unit --restart: lift the unit's capability restrictions while recording (a
    /// temporary runtime drop-in), so every check is visible and granted. For staging.
    #[arg(long, requires = "restart")]
    pub permissive: bool,
    /// Every task on the host, broken down per cgroup and systemd unit.
    #[arg(long)]
    pub all: bool,
    /// With -- CMD: stop when the command's first process exits, instead of following every
    /// process it starts (daemons that fork away) until the last is gone.
    #[arg(long)]
    pub until_exit: bool,
    /// With -- CMD: run it as USER[:GROUP] (names or numbers), as systemd's User=/Group= would,
    /// with no capabilities but those given to --ambient.
    #[arg(long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// With --user: keep these capabilities as ambient (AmbientCapabilities=), e.g.
    /// CAP_NET_BIND_SERVICE,CAP_CHOWN.
    #[arg(long, value_name = "CAPS", requires = "user")]
    pub ambient: Vec<String>,
    /// The command to spawn (after `--`). A container run (`podman run ...`, `docker run ...`)
    /// is recorded in the container, from its first task, not in the client.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Which container runtime a container target's name or run command belongs to (shared by
/// `record`, `trace`, `verify` and `minimize`).
#[derive(Args, Debug, Default)]
pub struct RuntimeArgs {
    /// With --container: the runtime to ask (default: podman, then docker).
    #[arg(long, value_name = "RUNTIME", requires = "container", value_parser = Engine::parse)]
    pub runtime: Option<Engine>,
    /// A rootless container: USER's own podman (its containers, images and storage) names it or
    /// runs the run command, as that user. The profile says which checks the container's user
    /// namespace answered (what `--cap-add` governs) and which the host's did (what no flag
    /// can grant a rootless container).
    #[arg(long, value_name = "USER")]
    pub rootless: Option<String>,
}

impl RuntimeArgs {
    /// The runtime named (None: ask podman, then docker).
    pub fn runtime(&self) -> Result<Option<Runtime>, Error> {
        match (&self.rootless, self.runtime) {
            (Some(user), engine) => Runtime::rootless(engine.unwrap_or(Engine::Podman), user).map(Some),
            (None, engine) => Ok(engine.map(|engine| Runtime { engine, user: None })),
        }
    }

    /// A run command run by the runtime named (a rootless user's podman, with --rootless).
    pub fn run_command(&self, run: RunCommand) -> Result<RunCommand, Error> {
        match &self.rootless {
            Some(user) => {
                let runtime = Runtime::rootless(run.runtime.engine, user)?;
                Ok(run.run_by(runtime))
            }
            None => Ok(run),
        }
    }

    /// --rootless without a container to apply to.
    pub fn refuse_without_container(&self) -> Result<(), Error> {
        match &self.rootless {
            Some(_) => Err(Error::Usage("--rootless applies to --container NAME or a container run command (-- podman run ...)".into())),
            None => Ok(()),
        }
    }
}

impl TargetArgs {
    /// The named target, or None when none was named; more than one is an error.
    pub fn spec(self) -> Result<Option<TargetSpec>, Error> {
        if (self.until_exit || self.user.is_some()) && self.command.is_empty() {
            return Err(Error::Usage("--until-exit and --user apply to a spawned command (-- CMD ARGS)".into()));
        }
        let named =
            [self.pid.is_some(), self.cgroup.is_some(), self.unit.is_some(), self.container.is_some(), self.all, !self.command.is_empty()];
        if named.iter().filter(|named| **named).count() > 1 {
            return Err(Error::Usage(
                "name one target: -- CMD ARGS, --pid PID, --cgroup PATH, --unit NAME, --container NAME or --all".into(),
            ));
        }
        if self.container.is_none() && self.command.is_empty() {
            self.runtime.refuse_without_container()?;
        }
        if self.restart && self.unit.is_none() && self.container.is_none() {
            return Err(Error::Usage("--restart applies to --unit NAME or --container NAME".into()));
        }
        if self.permissive && self.unit.is_none() {
            return Err(Error::Usage(
                "--permissive applies to --unit NAME --restart; a container's run command sets its own capabilities (--cap-add)".into(),
            ));
        }
        Ok(if let Some(pid) = self.pid {
            Some(TargetSpec::Pid(pid))
        } else if let Some(path) = self.cgroup {
            Some(TargetSpec::Cgroup(path))
        } else if let Some(unit) = self.unit {
            let change = if self.permissive { RuntimeChange::Permissive } else { RuntimeChange::None };
            Some(TargetSpec::Unit { name: unit, restart: self.restart.then_some(change) })
        } else if let Some(name) = self.container {
            Some(TargetSpec::Container { name, runtime: self.runtime.runtime()?, restart: self.restart })
        } else if self.all {
            Some(TargetSpec::All)
        } else if let Some(run) = RunCommand::parse(&self.command)? {
            if self.user.is_some() {
                return Err(Error::Usage(USER_NOT_FOR_CONTAINERS.into()));
            }
            Some(TargetSpec::ContainerRun { run: self.runtime.run_command(run)?, caps: CapSetting::AsWritten, trial: false })
        } else if !self.command.is_empty() {
            self.runtime.refuse_without_container()?;
            let run_as = self.user.as_deref().map(|user| RunAs::parse(user, &self.ambient)).transpose()?;
            Some(TargetSpec::Command { argv: self.command, until_exit: self.until_exit, run_as, bounding: None })
        } else {
            None
        })
    }
}
