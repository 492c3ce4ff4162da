//! The confinement a container recording allows beyond capabilities, as container runtimes
//! take it: a seccomp allow-list of the system calls the container made (`--security-opt
//! seccomp=PROFILE.json`, Kubernetes' `seccompProfile`), and a read-only root file system when
//! it wrote only where something of its own is mounted (`--read-only`, `readOnlyRootFilesystem`),
//! and `no-new-privileges`, which also makes the runtime load the filter last.
//! Candidates, as for a unit's sandboxing: `minimize --container NAME --sandbox` runs them with
//! the proven set and keeps what passes. What the run already confines is never loosened.
use std::collections::BTreeSet;

use super::sandboxing::Candidate;
pub use crate::profile::confinement::{NO_NEW_PRIVILEGES, READ_ONLY, SECCOMP, TMPFS};
use crate::{container::RunCommand, profile::Activity};

/// What stays writable in a read-only container whatever the run says: the kernel's file
/// systems and what the runtime mounts itself (podman: /dev, /dev/shm, /run, /tmp, /var/tmp).
const WRITABLE: [&str; 3] = ["/dev", "/proc", "/sys"];
const RUNTIME_TMPFS: [&str; 3] = ["/run", "/tmp", "/var/tmp"];

/// Allowed whatever the recording saw: the runtime's exec of the container's command runs under
/// the filter it loaded just before; and a process must be able to end and to return from a
/// signal handler, which a container stopped by a signal may never have done while recorded
/// (systemd's `@default` allows them to every unit for the same reason).
const ALWAYS: [&str; 5] = ["execve", "exit", "exit_group", "restart_syscall", "rt_sigreturn"];

/// The candidates for `run` from what its container did, and notes on what was left out.
pub fn candidates(activity: &Activity, run: &RunCommand) -> (Vec<Candidate>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    match run.seccomp() {
        Some(profile) if profile != "unconfined" => {
            notes.push(format!("seccomp left as the run sets it ({profile}): never loosened"));
        }
        _ => out.push(seccomp(activity, &mut notes)),
    }
    if !run.no_new_privileges() {
        out.push(Candidate {
            key: NO_NEW_PRIVILEGES,
            values: vec!["true".into()],
            why: "no exec gains privileges (a trial's exec that gained nothing drops it), and the runtime loads the seccomp filter just before its exec rather than before its own credential changes".into(),
        });
    }
    if run.read_only() {
        notes.push("read-only left as the run sets it".into());
    } else {
        match read_only(activity, &run.mount_points()) {
            Ok(mut read_only) => out.append(&mut read_only),
            Err(why) => notes.push(why),
        }
    }
    (out, notes)
}

fn seccomp(activity: &Activity, notes: &mut Vec<String>) -> Candidate {
    let (named, unnamed): (Vec<&String>, Vec<&String>) = activity.syscalls.keys().partition(|name| !name.starts_with("syscall_"));
    if !unnamed.is_empty() {
        notes.push(format!(
            "calls this capdisc cannot name ({}) are left out of the allow-list: a trial decides",
            unnamed.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut calls: BTreeSet<String> = named.into_iter().cloned().collect();
    let made = calls.len();
    calls.extend(ALWAYS.iter().map(|call| (*call).to_owned()));
    Candidate {
        key: SECCOMP,
        values: calls.into_iter().collect(),
        why: format!(
            "an allow-list of the {made} system call(s) the container made (its runtime's set-up before the exec is not the container's), with execve (the runtime's exec runs under the filter), exit, exit_group, restart_syscall and rt_sigreturn (to end, and to return from a signal); every other call fails with EPERM, other architectures' calls are refused"
        ),
    }
}

/// `--read-only` (and the runtime's tmpfs directories it wrote in), or why not.
fn read_only(activity: &Activity, mounts: &[String]) -> Result<Vec<Candidate>, String> {
    let under = |path: &str, dir: &str| path == dir || path.starts_with(&format!("{}/", dir.trim_end_matches('/')));
    let mut tmpfs = BTreeSet::new();
    let mut unplaced = 0;
    for used in activity.written() {
        if used.beside_fd || !used.path.starts_with('/') {
            unplaced += 1;
            continue;
        }
        let path = used.path.as_str();
        if WRITABLE.iter().any(|dir| under(path, dir)) || mounts.iter().any(|dir| under(path, dir)) {
            continue;
        }
        match RUNTIME_TMPFS.iter().find(|dir| under(path, dir)) {
            Some(dir) => {
                tmpfs.insert((*dir).to_owned());
            }
            None => return Err(format!("read-only left out: the container wrote {path}, on its root file system")),
        }
    }
    let mut why = "the root file system read-only: the container wrote only in what the run mounts and the runtime's tmpfs".to_owned();
    if unplaced > 0 {
        why.push_str(&format!("; {unplaced} path(s) it wrote were relative: a trial decides"));
    }
    let mut out = vec![Candidate { key: READ_ONLY, values: vec!["true".into()], why }];
    if !tmpfs.is_empty() {
        out.push(Candidate {
            key: TMPFS,
            values: tmpfs.into_iter().collect(),
            why: "it wrote there: podman mounts these as tmpfs in a read-only container, docker is told to".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PathUse;

    fn run(text: &str) -> RunCommand {
        let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        RunCommand::parse_with(&words, &crate::container::Switches::known()).expect("parses").expect("a run")
    }

    fn wrote(paths: &[&str]) -> Activity {
        let mut activity = Activity::default();
        for call in ["read", "write", "openat", "syscall_999"] {
            activity.syscalls.insert(call.into(), 1);
        }
        activity.paths = paths
            .iter()
            .map(|path| PathUse { path: (*path).into(), written: true, beside_fd: false, syscalls: vec!["openat".into()], count: 1 })
            .collect();
        activity
    }

    #[test]
    fn the_allow_list_is_the_calls_made_and_the_runtimes_exec_and_read_only_follows_the_writes() {
        let (found, notes) = candidates(&wrote(&["/run/app/pid", "/tmp/x", "/data/db"]), &run("podman run -v /srv:/data localhost/web"));
        let keys: Vec<&str> = found.iter().map(|candidate| candidate.key).collect();
        assert_eq!(keys, [SECCOMP, NO_NEW_PRIVILEGES, READ_ONLY, TMPFS]);
        assert_eq!(found[0].values, ["execve", "exit", "exit_group", "openat", "read", "restart_syscall", "rt_sigreturn", "write"]);
        assert_eq!(found[3].values, ["/run", "/tmp"]);
        assert!(notes[0].contains("syscall_999"), "{notes:?}");
    }

    #[test]
    fn a_write_to_the_root_file_system_or_the_runs_own_confinement_leaves_a_setting_out() {
        let (found, notes) = candidates(&wrote(&["/var/lib/web/state"]), &run("podman run localhost/web"));
        assert_eq!(found.iter().map(|candidate| candidate.key).collect::<Vec<_>>(), [SECCOMP, NO_NEW_PRIVILEGES]);
        assert!(notes.iter().any(|note| note.contains("/var/lib/web/state")), "{notes:?}");
        let (found, notes) = candidates(
            &wrote(&[]),
            &run("podman run --security-opt seccomp=/etc/web.json --security-opt no-new-privileges --read-only localhost/web"),
        );
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(notes.len(), 2);
        let (found, _) = candidates(&wrote(&[]), &run("podman run --security-opt seccomp=unconfined localhost/web"));
        assert_eq!(found.iter().map(|candidate| candidate.key).collect::<Vec<_>>(), [SECCOMP, NO_NEW_PRIVILEGES, READ_ONLY]);
    }
}
