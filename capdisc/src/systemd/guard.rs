//! Undo on any death. Before capdisc changes a unit for a while (a permissive drop-in, a stop for
//! a recording from the start), it starts a guardian: a copy of itself (`capdisc __guard`) in a
//! session of its own, moved to the cgroup v2 root (so neither a lost terminal nor the end of
//! capdisc's own cgroup or unit takes it along), holding the unit's lock and the read end of a
//! pipe whose only writer is capdisc. When capdisc finishes, it undoes the change itself and
//! writes `disarm`. When capdisc dies in any way, SIGKILL included, the kernel closes the pipe;
//! the guardian reads end-of-file without `disarm`, removes capdisc's runtime drop-ins, reloads
//! systemd and puts the unit back as it was (restarted if it was running, stopped otherwise).
//! Runtime drop-ins live under /run, so a host crash clears them as well.
use std::{
    fs,
    io::{Read, Write},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::Mutex,
};

use super::{
    dropin::{remove_runtime_dropin, RUNTIME_DIR},
    live::{show, systemctl},
    lock::{held, UnitLock},
};
use crate::error::Error;

/// Names of capdisc's temporary runtime drop-ins: `zz-capdisc-*.conf`.
const RUNTIME_PREFIX: &str = "zz-capdisc-";

/// A running guardian for one unit.
#[derive(Debug)]
pub struct Guardian {
    inner: Mutex<Option<(Child, ChildStdin)>>,
    pub pid: u32,
}

impl Guardian {
    /// Starts the guardian; from now on, capdisc's death undoes its changes to `unit`.
    pub fn spawn(unit: &str, was_active: bool, lock: &UnitLock) -> Result<Self, Error> {
        let mut args = vec!["--unit".to_owned(), unit.to_owned()];
        if was_active {
            args.push("--was-active".into());
        }
        Self::launch(args, Some(lock.share()?))
    }

    /// Starts the guardian of a proof's trials: from now on, capdisc's death kills and removes
    /// every cgroup and container it made for a trial's workload or check (`capdisc-PID-*`), and
    /// starts `start_container` (`RUNTIME:ID`, the container the trials stood in for) again.
    /// `trial_runtime` (`podman@UID`): a rootless runtime whose trial containers to remove too.
    pub fn spawn_for_trials(trial_runtime: Option<&str>, start_container: Option<&str>) -> Result<Self, Error> {
        let mut args = vec!["--cgroups-of".to_owned(), std::process::id().to_string()];
        if let Some(runtime) = trial_runtime {
            args.extend(["--trial-runtime".to_owned(), runtime.to_owned()]);
        }
        if let Some(container) = start_container {
            args.extend(["--start-container".to_owned(), container.to_owned()]);
        }
        Self::launch(args, None)
    }

    /// Starts the guardian of a container capdisc stopped to record it from its start: from now
    /// on, capdisc's death starts it (`RUNTIME:ID`) again.
    pub fn spawn_for_container(start_container: &str) -> Result<Self, Error> {
        Self::launch(vec!["--start-container".to_owned(), start_container.to_owned()], None)
    }

    fn launch(args: Vec<String>, lock_fd: Option<OwnedFd>) -> Result<Self, Error> {
        let mut command = Command::new("/proc/self/exe");
        command.arg("__guard").args(args);
        // Its words go to syslog (the journal): capdisc's stderr may be a pipe its reader waits
        // on, or a terminal that is gone.
        command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let raw = lock_fd.as_ref().map(AsRawFd::as_raw_fd);
        // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl, setsid).
        unsafe {
            command.pre_exec(move || {
                // The lock travels as fd 3, without close-on-exec (dup2 clears it; when the copy
                // already is fd 3, dup2 does nothing and the flag is cleared by hand).
                let moved = match raw {
                    Some(3) => libc::fcntl(3, libc::F_SETFD, 0),
                    Some(raw) => libc::dup2(raw, 3),
                    None => 0,
                };
                if moved < 0 || libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|err| Error::io("cannot start capdisc's guardian", err))?;
        drop(lock_fd);
        let stdin = child.stdin.take().ok_or_else(|| Error::Runtime("the guardian has no pipe".into()))?;
        let pid = child.id();
        Ok(Self { inner: Mutex::new(Some((child, stdin))), pid })
    }

    /// capdisc undid its changes itself: the guardian exits without acting (waited for, so the
    /// unit's lock is free when this returns).
    pub fn disarm(&self) {
        let taken = self.inner.lock().map(|mut inner| inner.take()).unwrap_or(None);
        if let Some((mut child, mut stdin)) = taken {
            let _ = stdin.write_all(b"disarm\n");
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// `capdisc __guard`: waits for capdisc to end; unless disarmed, undoes `on_death` (a proof's
/// trial cgroups: its words go to syslog, an Err fails the guardian) and restores `unit`.
pub fn guard_main(unit: Option<&str>, was_active: bool, on_death: impl FnOnce() -> Result<Option<String>, String>) -> i32 {
    // Signals meant for capdisc's terminal or process group are not for the guardian.
    for signal in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM, libc::SIGQUIT, libc::SIGPIPE] {
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    leave_capdiscs_cgroup();
    let mut message = String::new();
    let _ = std::io::stdin().read_to_string(&mut message);
    if message.lines().any(|line| line == "disarm") {
        return 0;
    }
    let code = match on_death() {
        Ok(said) => {
            said.iter().for_each(|line| say(line));
            0
        }
        Err(why) => {
            say(&why);
            1
        }
    };
    let Some(unit) = unit else { return code };
    say(&format!("capdisc ended without undoing its changes to {unit}: restoring it"));
    match restore(unit, Some(was_active)) {
        Ok(done) => {
            say(&format!("{unit} restored: {done}"));
            code
        }
        Err(err) => {
            say(&format!("could not restore {unit}: {err}; run `capdisc restore --unit {unit}`"));
            1
        }
    }
}

/// To syslog (the journal on systemd hosts), where operators look after the fact.
fn say(line: &str) {
    if let Ok(text) = std::ffi::CString::new(format!("capdisc guardian: {line}")) {
        unsafe { libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), text.as_ptr()) };
    }
}

/// Moves this process to the cgroup v2 root, out of whatever cgroup capdisc ran in.
fn leave_capdiscs_cgroup() {
    if let Ok(mount) = crate::kernel::cgroup2_mount() {
        let _ = fs::write(mount.join("cgroup.procs"), std::process::id().to_string());
    }
}

/// capdisc's runtime drop-ins of a unit.
pub fn runtime_dropins(unit: &str) -> Vec<PathBuf> {
    runtime_dropins_under(Path::new("/"), unit)
}

/// capdisc's runtime drop-ins of a unit in an offline root (`--root`): no capdisc can be running
/// there, so every one is a leftover (the unit would boot with its restrictions lifted).
pub fn offline_leftovers(root: &Path, unit: &str) -> Vec<PathBuf> {
    runtime_dropins_under(root, unit)
}

fn runtime_dropins_under(root: &Path, unit: &str) -> Vec<PathBuf> {
    let dir = root.join(RUNTIME_DIR.trim_start_matches('/')).join(format!("{unit}.d"));
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.starts_with(RUNTIME_PREFIX) && name.ends_with(".conf")
                })
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// capdisc runtime drop-ins that no live capdisc owns (its lock is free): left by a capdisc
/// killed before its guardian was up, or by an older version.
pub fn leftovers(unit: &str) -> Vec<PathBuf> {
    let found = runtime_dropins(unit);
    if found.is_empty() || held(unit) {
        return Vec::new();
    }
    found
}

/// Refuses to work on a unit with leftovers, saying how to clear them.
pub fn refuse_leftovers(unit: &str) -> Result<(), Error> {
    let found = leftovers(unit);
    match found.first() {
        None => Ok(()),
        Some(path) => Err(leftover_error(unit, path)),
    }
}

/// Refuses to work on an offline root's unit with capdisc leftovers, saying how to clear them.
pub fn refuse_offline_leftovers(root: &Path, unit: &str) -> Result<(), Error> {
    match offline_leftovers(root, unit).first() {
        None => Ok(()),
        Some(path) => Err(Error::Target(format!(
            "{unit} has a capdisc drop-in left behind under this root ({}; the unit may run with its capability restrictions lifted); nothing written: delete it first (`rm {}`)",
            path.display(),
            path.display()
        ))),
    }
}

pub fn leftover_error(unit: &str, path: &Path) -> Error {
    Error::Target(format!(
        "{unit} has a capdisc drop-in that no running capdisc owns ({}; the unit may run with its capability restrictions lifted); clear it with `capdisc restore --unit {unit}`",
        path.display()
    ))
}

/// Removes capdisc's runtime drop-ins and puts the unit back: `was_active` as recorded by
/// capdisc, or (`None`, from `capdisc restore`) restarted if it runs now, so it runs under its
/// own settings again. Returns what was done.
pub fn restore(unit: &str, was_active: Option<bool>) -> Result<String, Error> {
    let mut done = Vec::new();
    let dropins = runtime_dropins(unit);
    for path in &dropins {
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        remove_runtime_dropin(unit, &name)?;
        done.push(format!("removed {}", path.display()));
    }
    if !dropins.is_empty() {
        systemctl(&["daemon-reload"])?;
    }
    let active = match was_active {
        Some(active) => active,
        None => matches!(show(unit, &["ActiveState"])?.get("ActiveState").map(String::as_str), Some("active" | "activating" | "reloading")),
    };
    if active {
        systemctl(&["restart", unit])?;
        done.push(format!("restarted {unit}{}", if was_active.is_some() { " as it was" } else { " under its own settings" }));
    } else {
        systemctl(&["stop", unit])?;
        done.push(format!("left {unit} stopped{}", if was_active.is_some() { ", as it was" } else { "" }));
    }
    Ok(done.join("; "))
}
