//! `record -- CMD` follows the workload, not its first process: daemons that fork away are
//! recorded until the last is gone, and capdisc's cgroup never stays behind. Arguments are
//! checked before the workload runs.
use std::fs;

use crate::common::*;

fn capdisc_cgroups() -> Vec<String> {
    let mount = capdisc::kernel::cgroup2_mount().expect("cgroup v2");
    let own = format!("capdisc-{}-", std::process::id());
    fs::read_dir(mount)
        .expect("read cgroup root")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("capdisc-") && !name.starts_with(&own))
        .collect()
}

#[test]
fn a_daemon_that_forks_away_is_followed_until_it_is_gone() {
    if skip_without_root() {
        return;
    }
    let daemon = format!("(sleep 1; exec {} bind 443) &", workload().display());
    let run = record(&[], &["--", "sh", "-c", &daemon]);
    let text = stderr(&run.output);
    assert!(run.output.status.success(), "{text}");
    assert_eq!(required(&run.profile), vec!["CAP_NET_BIND_SERVICE"], "the background bind is recorded");
    assert_eq!(run.profile.exit_status, Some(0), "the first process's status");
    let cgroup = run.profile.target.cgroup.clone().expect("cgroup");
    let mount = capdisc::kernel::cgroup2_mount().expect("cgroup v2");
    assert!(!mount.join(cgroup.trim_start_matches('/')).exists(), "capdisc's cgroup {cgroup} is removed");

    let until_exit = record(&["--until-exit"], &["--", "sh", "-c", &daemon]);
    assert!(required(&until_exit.profile).is_empty(), "--until-exit stops with the first process: {:?}", until_exit.profile.capabilities);
    let cgroup = until_exit.profile.target.cgroup.clone().expect("cgroup");
    assert!(!mount.join(cgroup.trim_start_matches('/')).exists(), "removed even with the daemon still running");
    assert!(capdisc_cgroups().iter().all(|name| !cgroup.ends_with(name.as_str())));
}

#[test]
fn a_bad_output_path_is_refused_before_the_workload_runs() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("ran");
    let output = capdisc()
        .args(["record", "-q", "-o"])
        .arg(dir.path())
        .args(["--", "sh", "-c"])
        .arg(format!("touch {}", marker.display()))
        .output()
        .expect("run");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("it is a directory"), "{text}");
    assert!(!marker.exists(), "the workload never ran");
}

#[test]
fn a_recording_ended_by_its_duration_succeeds() {
    if skip_without_root() {
        return;
    }
    let run = record(&["--duration", "1"], &["--", "sleep", "30"]);
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    assert_eq!(run.profile.exit_status, Some(143), "the command's own status stays in the profile");
}

#[test]
fn user_runs_the_command_as_systemds_user_would_without_counting_the_switch() {
    if skip_without_root() {
        return;
    }
    let workload = workload();
    let workload = workload.to_str().expect("utf-8");
    let granted = record(&["--user", "nobody", "--ambient", "CAP_NET_BIND_SERVICE"], &["--", workload, "bind", "443"]);
    assert!(granted.output.status.success(), "{}", stderr(&granted.output));
    assert_eq!(required(&granted.profile), vec!["CAP_NET_BIND_SERVICE"], "the switch's SETUID/SETGID/SETPCAP are set-up, not needs");
    assert_eq!(cap(&granted.profile, "CAP_NET_BIND_SERVICE").uids, vec![65534]);
    assert!(granted.profile.target.description.ends_with("(as nobody:65534)"), "{}", granted.profile.target.description);

    let denied = record(&["--user", "nobody"], &["--", workload, "bind", "443"]);
    assert_eq!(denied.output.status.code(), Some(1), "no ambient: the bind fails as under User=nobody");
    assert!(required(&denied.profile).is_empty());
    assert_eq!(cap(&denied.profile, "CAP_NET_BIND_SERVICE").class, capdisc::classify::Class::Denied);

    // The environment systemd gives User=: the user's HOME (it stayed /root, so programs made
    // denied DAC checks that a real unit would not), USER, LOGNAME, SHELL.
    let home = capdisc::host::passwd_of_uid(65534).expect("nobody has an entry").home;
    let env = record(&["--user", "nobody"], &["--", "sh", "-c", "echo \"$HOME $USER $LOGNAME\""]);
    assert_eq!(String::from_utf8_lossy(&env.output.stdout).trim(), format!("{home} nobody nobody"));

    let unknown = capdisc().args(["record", "-q", "--user", "no-such-user-capdisc", "--", "true"]).output().expect("run");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("--user: no user `no-such-user-capdisc`"), "{}", stderr(&unknown));
}
