//! The container runtime capdisc drives: its engine (podman or docker) and whose containers it
//! runs. The system's runtime runs as root; a rootless podman runs as its user, with that
//! user's credentials, home and runtime directory, exactly as the user's own `podman` would
//! (its containers, images and storage are that user's, and invisible to root's podman).
use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    error::Error,
    host::{passwd_of_uid, RunAs},
};

/// The container engines capdisc drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Podman,
    Docker,
}

impl Engine {
    /// The engine a program is (`podman`, `/usr/bin/docker`).
    pub fn of_program(program: &str) -> Option<Self> {
        match program.rsplit('/').next()? {
            "podman" => Some(Engine::Podman),
            "docker" => Some(Engine::Docker),
            _ => None,
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::of_program(text).ok_or_else(|| format!("unknown container runtime `{text}`; use podman or docker"))
    }

    pub fn program(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }
}

/// An engine and whose containers it runs: the system's (`user` None) or one user's rootless
/// podman (`user`: that user's uid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub engine: Engine,
    pub user: Option<u32>,
}

impl Runtime {
    pub const PODMAN: Runtime = Runtime { engine: Engine::Podman, user: None };
    pub const DOCKER: Runtime = Runtime { engine: Engine::Docker, user: None };

    /// The system's runtime of a program (`podman`, `/usr/bin/docker`).
    pub fn of_program(program: &str) -> Option<Self> {
        Engine::of_program(program).map(|engine| Runtime { engine, user: None })
    }

    /// `engine` for the user whose rootless containers to drive (`--rootless USER`: a name or
    /// uid, not root, with a runtime directory: a login session or lingering, where rootless
    /// podman keeps its state). Rootless is podman's: docker's rootless daemon is a different
    /// program capdisc does not drive.
    pub fn rootless(engine: Engine, user: &str) -> Result<Self, Error> {
        if engine == Engine::Docker {
            return Err(Error::Usage(
                "--rootless is for podman (rootless docker runs a daemon of its own, which capdisc does not drive); drop --runtime docker"
                    .into(),
            ));
        }
        let run_as = RunAs::parse(user, &[]).map_err(|err| Error::Usage(err.to_string().replace("--user", "--rootless")))?;
        if run_as.uid == 0 {
            return Err(Error::Usage("--rootless root: root's containers are the system's; drop --rootless".into()));
        }
        let dir = runtime_dir(run_as.uid);
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "--rootless {user}: {} does not exist (the user has no session, and rootless podman keeps its state there); run `loginctl enable-linger {user}` or log the user in",
                dir.display()
            )));
        }
        Ok(Runtime { engine, user: Some(run_as.uid) })
    }

    /// As the guardian's arguments write it: `podman`, or `podman@UID` for a rootless one.
    pub fn token(self) -> String {
        match self.user {
            Some(uid) => format!("{}@{uid}", self.engine.program()),
            None => self.engine.program().to_owned(),
        }
    }

    /// A [`Runtime::token`] read back.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (engine, user) = match text.split_once('@') {
            Some((engine, uid)) => (engine, Some(uid.parse::<u32>().map_err(|_| format!("`{uid}` is not a uid"))?)),
            None => (text, None),
        };
        Ok(Runtime { engine: Engine::parse(engine)?, user })
    }

    pub fn program(self) -> &'static str {
        self.engine.program()
    }

    /// For messages: `podman`, or `podman, rootless as alice`.
    pub fn describe(self) -> String {
        match self.user {
            Some(uid) => format!("{}, rootless as {}", self.program(), user_name(uid)),
            None => self.program().to_owned(),
        }
    }

    /// The runtime's program ready to run: as root, or as the rootless user.
    pub fn command(self) -> Result<Command, Error> {
        let mut command = Command::new(self.program());
        if let Some(user) = self.rootless_session()? {
            user.prepare(&mut command);
            // SAFETY: `switch` makes only async-signal-safe calls, between fork and exec.
            unsafe {
                command.pre_exec(move || user.run_as.switch());
            }
        }
        Ok(command)
    }

    /// What running as the rootless user takes (None: the system's runtime).
    pub fn rootless_session(self) -> Result<Option<UserSession>, Error> {
        let Some(uid) = self.user else { return Ok(None) };
        let run_as = RunAs::parse(&uid.to_string(), &[])?;
        let home = home_of(uid).filter(|home| home.is_dir()).unwrap_or_else(|| PathBuf::from("/"));
        Ok(Some(UserSession { run_as, home, name: user_name(uid) }))
    }

    /// Runs `program args` to its end: its stdout, or Err with its first line of stderr.
    pub fn run(self, args: &[&str]) -> Result<String, Error> {
        run_to_end(self.command()?.args(args), &format!("{} {}", self.program(), args.join(" ")))
    }
}

/// Runs `command` (`written`, in messages) to its end: its stdout, or Err with its first line
/// of stderr.
pub fn run_to_end(command: &mut Command, written: &str) -> Result<String, Error> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output =
        command.output().map_err(|err| Error::input(format!("cannot run {program}"), err, &format!("; is {program} installed?")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr.lines().find(|line| !line.trim().is_empty()).unwrap_or("no message").trim().to_owned();
        return Err(Error::Target(format!("`{written}` failed: {why}")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A rootless user as their own `podman` runs: credentials and groups, home, and the
/// environment a login session gives (HOME, USER, LOGNAME, XDG_RUNTIME_DIR).
#[derive(Clone, Debug)]
pub struct UserSession {
    pub run_as: RunAs,
    pub home: PathBuf,
    name: String,
}

impl UserSession {
    /// The session's environment and working directory on `command` (root's own session bus
    /// is not passed on); the credentials are switched by the spawner (`RunAs::switch`).
    pub fn prepare(&self, command: &mut Command) {
        command
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", runtime_dir(self.run_as.uid))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .current_dir(&self.home);
    }
}

/// Where a user's session keeps its runtime state (what pam_systemd makes: `/run/user/UID`).
fn runtime_dir(uid: u32) -> PathBuf {
    Path::new("/run/user").join(uid.to_string())
}

fn home_of(uid: u32) -> Option<PathBuf> {
    passwd_of_uid(uid).map(|entry| PathBuf::from(entry.home))
}

/// A uid's name (its number when it has no passwd entry).
pub fn user_name(uid: u32) -> String {
    passwd_of_uid(uid).map_or_else(|| uid.to_string(), |entry| entry.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_is_written_and_read_back_for_the_guardian() {
        for runtime in [Runtime::PODMAN, Runtime::DOCKER, Runtime { engine: Engine::Podman, user: Some(1001) }] {
            assert_eq!(Runtime::parse(&runtime.token()), Ok(runtime));
        }
        assert_eq!(Runtime { engine: Engine::Podman, user: Some(1001) }.token(), "podman@1001");
        assert!(Runtime::parse("podman@alice").is_err());
        assert!(Runtime::parse("lxc").expect_err("unknown").contains("use podman or docker"));
        let rootless = |engine, user| Runtime::rootless(engine, user).expect_err("refused").to_string();
        assert!(rootless(Engine::Docker, "nobody").contains("--rootless is for podman"));
        assert!(rootless(Engine::Podman, "root").contains("root's containers are the system's"));
        assert!(rootless(Engine::Podman, "no-such-user-capdisc").contains("--rootless: no user `no-such-user-capdisc`"));
    }
}
