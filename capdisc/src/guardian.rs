//! Undo on any death. Before capdisc changes something for a while (a unit's permissive drop-in
//! or its stop for a recording from the start, a proof's trial cgroups and containers, a
//! container stopped to be recorded from its start), it starts a guardian: a copy of itself
//! (`capdisc __guard`) in a session of its own, moved to the cgroup v2 root (so neither a lost
//! terminal nor the end of capdisc's own cgroup or unit takes it along), holding the read end of
//! a pipe whose only writer is capdisc (and, for a unit, the unit's lock). When capdisc
//! finishes, it undoes its change itself and writes `disarm`. When capdisc dies in any way,
//! SIGKILL included, the kernel closes the pipe; the guardian reads end-of-file without
//! `disarm` and runs the undo actions it was started for (`cli` wires them: a proof's trials,
//! the container, the unit's restore), saying what it did in syslog.
use std::{
    fs,
    io::{Read, Write},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::process::CommandExt,
    },
    process::{Child, ChildStdin, Command, Stdio},
    sync::Mutex,
};

use crate::error::Error;

/// A running guardian.
#[derive(Debug)]
pub struct Guardian {
    inner: Mutex<Option<(Child, ChildStdin)>>,
    pub pid: u32,
}

impl Guardian {
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

    /// Starts `capdisc __guard ARGS`; `lock_fd`, a unit's lock, travels to it as fd 3.
    pub fn launch(args: Vec<String>, lock_fd: Option<OwnedFd>) -> Result<Self, Error> {
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

/// One thing the guardian undoes after capdisc's death: what it did (`Ok`, said in syslog when
/// `Some`) or why it could not (`Err`, said, and the guardian exits 1).
pub type Undo<'a> = Box<dyn FnOnce() -> Result<Option<String>, String> + 'a>;

/// `capdisc __guard`: waits for capdisc to end; unless disarmed, runs `undo` in order (each one
/// whatever the others did), its words to syslog.
pub fn guard_main(undo: Vec<Undo<'_>>) -> i32 {
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
    let mut code = 0;
    for action in undo {
        match action() {
            Ok(said) => said.iter().for_each(|line| say(line)),
            Err(why) => {
                say(&why);
                code = 1;
            }
        }
    }
    code
}

/// To syslog (the journal on systemd hosts), where operators look after the fact.
pub fn say(line: &str) {
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
