//! Spawning the command to record: it moves itself into its cgroup between fork and exec, so
//! every descendant is in the cgroup and the exec gate in the kernel can tell set-up checks from
//! the command's own. With `--user`, it then switches to that user (see `credentials`). stdio
//! passes through untouched.
use std::{ffi::CString, io, os::unix::process::ExitStatusExt, process::ExitStatus};

use super::{cgroup::Cgroup, credentials::RunAs};

/// `bounding`: drop every capability outside this mask from the bounding set before exec (as
/// root, before any user switch), so the command runs under exactly that set: a root command's
/// permitted set after exec is its bounding set.
/// `stdio` sets up the command's standard streams (a check's are piped; a workload's pass through).
pub fn spawn_in_cgroup(
    argv: &[String],
    cgroup: &Cgroup,
    run_as: Option<&RunAs>,
    bounding: Option<u64>,
    stdio: impl FnOnce(&mut tokio::process::Command),
) -> io::Result<tokio::process::Child> {
    let run_as = run_as.cloned();
    // A non-root capdisc holds what it needs to trace (kernel::privileges::NON_ROOT_NEEDS) in
    // its ambient set, which exec would pass on: the command runs as its user, without them.
    let clear_ambient = unsafe { libc::geteuid() } != 0;
    let last_cap = crate::caps::last_cap().min(63) as u64;
    let procs = CString::new(cgroup.path.join("cgroup.procs").into_os_string().into_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cgroup path contains NUL"))?;
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]);
    if let Some(run_as) = &run_as {
        command.envs(run_as.environment.iter().map(|(key, value)| (key, value)));
    }
    stdio(&mut command);
    // SAFETY: the closure only makes async-signal-safe calls (open, write, close, prctl, and
    // the credential calls of `RunAs::switch`).
    unsafe {
        command.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(io::Error::last_os_error());
            }
            if let Some(mask) = bounding {
                for cap in 0..=last_cap {
                    if mask & (1 << cap) == 0 && libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            if clear_ambient && libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            match &run_as {
                // SAFETY: between fork and exec, as switch() requires.
                Some(run_as) => run_as.switch(),
                None => Ok(()),
            }
        });
    }
    command.spawn()
}

/// The exit code a shell would report: the code, or 128 + the signal.
pub fn exit_code_of(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|signal| 128 + signal)).unwrap_or(1)
}
