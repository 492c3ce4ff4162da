//! `capdisc trace` sees what a target's sandbox refuses, from the kernel's own evidence: a real
//! seccomp filter (installed by the workload as systemd's `SystemCallFilter=` installs one), a
//! real read-only bind mount in a real mount namespace. Units and their settings are proven in
//! the systemd guest.
use std::process::Output;

use crate::common::*;
use serde_json::Value;

fn trace_json(extra: &[&str], command: &[&str]) -> (Output, Vec<Value>) {
    let output = capdisc().args(["trace", "--json"]).args(extra).arg("--").args(command).output().expect("run capdisc trace");
    let events = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}")))
        .collect();
    (output, events)
}

fn refusals(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|event| event["verdict"] == "refused").collect()
}

#[test]
fn a_seccomp_refusal_names_the_call_the_errno_and_its_group() {
    if skip_without_root() {
        return;
    }
    let workload = workload();
    let (output, events) = trace_json(&["--denied"], &[workload.to_str().expect("utf-8"), "filtered", "adjtimex", "1"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("adjtimex: refused: Operation not permitted"), "{}", stderr(&output));
    let refused = refusals(&events);
    assert_eq!(refused.len(), 1, "exactly the filtered call: {events:?}");
    let adjtimex = refused[0];
    assert_eq!(adjtimex["syscall"], "adjtimex");
    assert_eq!(adjtimex["refused"]["by"], "seccomp", "refused at entry, before the call ran");
    assert_eq!(adjtimex["refused"]["errno"], "EPERM");
    assert_eq!(adjtimex["setting"], Value::Null, "a command, not a unit: no setting to name");
    assert!(adjtimex["why"].as_str().is_some_and(|why| why.contains("@clock")), "the group from this host's systemd: {adjtimex}");
}

#[test]
fn a_refused_socket_family_is_read_from_the_call() {
    if skip_without_root() {
        return;
    }
    let workload = workload();
    let (_, events) = trace_json(&["-q"], &[workload.to_str().expect("utf-8"), "filtered-socket", "16"]);
    let refused = refusals(&events);
    assert_eq!(refused.len(), 1, "{events:?}");
    assert_eq!(refused[0]["syscall"], "socket");
    assert_eq!(refused[0]["refused"]["errno"], "EAFNOSUPPORT");
    assert_eq!(refused[0]["refused"]["args"][0], 16, "AF_NETLINK, the family asked for");
}

#[test]
fn a_write_to_a_read_only_mount_names_the_path() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path().to_str().expect("utf-8").to_owned();
    let script =
        format!("mount --bind {dir} {dir} && mount -o remount,bind,ro {dir} && {} write-file {dir}/hits.tmp", workload().display());
    let (output, events) = trace_json(&["--denied", "-q"], &["unshare", "-m", "sh", "-c", &script]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("Read-only file system"), "the workload met EROFS: {}", stderr(&output));
    let refused = refusals(&events);
    assert_eq!(refused.len(), 1, "{events:?}");
    assert_eq!(refused[0]["refused"]["by"], "file system");
    assert_eq!(refused[0]["refused"]["errno"], "EROFS");
    assert_eq!(refused[0]["path"], format!("{dir}/hits.tmp"));
    assert_eq!(refused[0]["why"], "a read-only mount");
}

#[test]
fn file_permissions_are_not_called_the_sandbox_and_no_sandbox_sees_nothing() {
    if skip_without_root() {
        return;
    }
    let workload = workload();
    // nobody writing under /root (0700): EACCES from the file's own mode, counted, not shown.
    let output = capdisc()
        .args([
            "trace",
            "--denied",
            "--",
            workload.to_str().expect("utf-8"),
            "--as-user",
            "65534",
            "write-file",
            "/root/capdisc-nobody.tmp",
        ])
        .output()
        .expect("trace");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("REFUSED"), "{text}");
    assert!(stderr(&output).contains("1 failed file access(es) no sandbox setting explains hidden"), "{}", stderr(&output));
    let (_, events) = trace_json(&["--no-sandbox", "-q"], &[workload.to_str().expect("utf-8"), "filtered", "adjtimex", "1"]);
    assert!(refusals(&events).is_empty(), "--no-sandbox attaches nothing for it: {events:?}");
}

#[test]
fn record_sandbox_keeps_each_refusal_in_the_profile_and_plain_record_none() {
    if skip_without_root() {
        return;
    }
    let recording = record_workload(&["--sandbox"], &["filtered-socket", "16"]);
    assert_eq!(recording.output.status.code(), Some(1), "the refused socket failed the workload");
    let refusals = &recording.profile.refusals;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].syscall, "socket");
    assert_eq!(refusals[0].by, capdisc::profile::RefusedBy::Seccomp);
    assert_eq!(refusals[0].errno.as_deref(), Some("EAFNOSUPPORT"));
    assert_eq!(refusals[0].family.as_deref(), Some("AF_NETLINK"));
    assert_eq!((refusals[0].count, refusals[0].comm.as_str()), (1, "workload"));
    assert_eq!(recording.profile.refusals_lost, 0);
    let plain = record_workload(&[], &["filtered-socket", "16"]);
    assert!(plain.profile.refusals.is_empty(), "a plain record attaches no sandbox program");
}

#[test]
fn a_setuid_exec_under_no_new_privs_is_seen_gaining_nothing() {
    if skip_without_root() {
        return;
    }
    // A setuid-root copy of the workload, exec'd by uid 65534 with and without no_new_privs.
    let dir = tempfile::tempdir().expect("tempdir");
    // uid 65534 must reach it (a temporary directory is 0700).
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let setuid = dir.path().join("setuid-workload");
    std::fs::copy(workload(), &setuid).expect("copy");
    std::fs::set_permissions(&setuid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).expect("chmod u+s");
    let (setuid, workload) = (setuid.to_str().expect("utf-8").to_owned(), workload().to_str().expect("utf-8").to_owned());
    let (_, events) = trace_json(&["--denied", "-q"], &[&workload, "--as-user", "65534", "exec-no-new-privs", &setuid, "noop"]);
    let refused = refusals(&events);
    assert_eq!(refused.len(), 1, "{events:?}");
    assert_eq!(refused[0]["syscall"], "execve");
    assert_eq!(refused[0]["refused"]["by"], "exec");
    assert_eq!(refused[0]["path"], setuid.as_str());
    assert!(refused[0]["why"].as_str().is_some_and(|why| why.starts_with("no_new_privs was set on the process")), "{}", refused[0]);

    // The same exec without no_new_privs gains its owner's uid: nothing to report.
    let output = capdisc()
        .args([
            "trace",
            "--json",
            "--denied",
            "-q",
            "--",
            "setpriv",
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            &setuid,
            "noop",
        ])
        .output()
        .expect("trace");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("\"verdict\":\"refused\""), "{text}");
}
