//! A trial's check: `--check CMD` run with `sh -c` in a cgroup of its own (`capdisc-PID-check-N`,
//! outside the recorded one, so it is neither counted nor able to outlive its run), at most 10 s a
//! run and never past the phase's deadline.
use crate::support::console;
use std::{process::Stdio, time::Duration};

use crate::host::Cgroup;

/// The longest one run of the check may take before it is killed and tried again (never past
/// the trial's `--timeout`).
pub const CHECK_ATTEMPT_LIMIT: Duration = Duration::from_secs(10);

pub enum CheckFailed {
    /// It exited non-zero, or could not run: its last line of output, or the error.
    Failed(String),
    /// Still running after this long: killed.
    TimedOut(Duration),
}

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckFailed::Failed(why) => f.write_str(why),
            CheckFailed::TimedOut(limit) => write!(f, "still running after {} s (killed)", limit.as_secs_f64()),
        }
    }
}

/// Runs the check (or an `--exercise`) once, through `sh -c`, at most `limit`, in a cgroup of its
/// own, which is killed and removed afterwards, however the run ends (one that forks a daemon, or
/// one still running when the trial is decided or interrupted, never outlives it). `main_pid`:
/// the service's main process, as `$MAINPID` in its environment (for `--exercise`); `container`:
/// the container that runs it (a trial's own), as `$CONTAINER` (`podman exec $CONTAINER ...`).
pub async fn run_check(check: &str, limit: Duration, main_pid: Option<u32>, container: Option<String>) -> Result<(), CheckFailed> {
    let cgroup = CheckCgroup(Cgroup::create_check_leaf().map_err(|err| CheckFailed::Failed(err.to_string()))?);
    let child = crate::host::spawn_in_cgroup(&["sh".to_owned(), "-c".to_owned(), check.to_owned()], &cgroup.0, None, None, |command| {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        if let Some(pid) = main_pid {
            command.env("MAINPID", pid.to_string());
        }
        if let Some(container) = &container {
            command.env("CONTAINER", container);
        }
    })
    .map_err(|err| CheckFailed::Failed(format!("cannot run sh: {err}")))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => {
            let text = String::from_utf8_lossy(if output.stderr.is_empty() { &output.stdout } else { &output.stderr }).into_owned();
            Err(CheckFailed::Failed(format!("exit {}: {}", output.status.code().unwrap_or(-1), text.trim().lines().last().unwrap_or(""))))
        }
        Ok(Err(err)) => Err(CheckFailed::Failed(err.to_string())),
        Err(_) => Err(CheckFailed::TimedOut(limit)),
    }
}

/// A check's cgroup: killed and removed when dropped.
struct CheckCgroup(Cgroup);

impl Drop for CheckCgroup {
    fn drop(&mut self) {
        if let Err(err) = self.0.kill_and_remove() {
            console::warning!("{err}");
        }
    }
}
