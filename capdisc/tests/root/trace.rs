//! `capdisc trace` against real workloads: denials explained, --unique, --json, losses.
use std::process::Output;

use crate::common::*;
use serde_json::Value;

fn trace(args: &[&str], workload_args: &[&str]) -> Output {
    capdisc().arg("trace").args(args).arg("--").arg(workload()).args(workload_args).output().expect("run capdisc trace")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}")))
        .collect()
}

#[test]
fn a_denied_bind_answers_which_permission_in_one_line() {
    if skip_without_root() {
        return;
    }
    let output = trace(&["--denied", "-q"], &["--as-user", "65534", "bind", "443"]);
    let text = String::from_utf8_lossy(&output.stdout);
    // The workload's own stdout passes through first; capdisc's table starts at its header.
    let lines: Vec<&str> = text.lines().skip_while(|line| !line.starts_with("TIME")).collect();
    assert_eq!(lines.len(), 4, "header, the denial, its explanation and what the call returned: {text}");
    assert!(lines[1].contains("CAP_NET_BIND_SERVICE(10)") && lines[1].contains("DENIED") && lines[1].ends_with("bind"), "{text}");
    assert!(lines[2].contains("which permission: CAP_NET_BIND_SERVICE in bind (bind() returns EACCES when refused)"), "{text}");
    assert!(lines[2].contains("AmbientCapabilities=CAP_NET_BIND_SERVICE (or a file capability) is missing"), "{text}");
    assert_eq!(lines[3], "  bind() returned EACCES: the refusal failed it", "seen at the call's exit: {text}");
}

#[test]
fn an_empty_bounding_set_is_named_as_the_cause() {
    if skip_without_root() {
        return;
    }
    let output = capdisc()
        .args([
            "trace",
            "--denied",
            "--json",
            "-q",
            "--",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(workload())
        .args(["bind", "443"])
        .output()
        .expect("trace");
    let events = json_lines(&output);
    let bind = events.iter().find(|event| event["syscall"] == "bind").expect("the denied bind");
    assert_eq!(bind["cap_name"], "CAP_NET_BIND_SERVICE");
    assert_eq!(bind["verdict"], "denied");
    assert_eq!(bind["errno"], "EACCES");
    assert_eq!(bind["explain"]["sets"]["source"], "check", "read in the kernel at the check: {bind}");
    assert_eq!(bind["explain"]["sets"]["bounding"], "(none)", "sets read at the check, though the process is gone: {bind}");
    assert_eq!(bind["explain"]["sets"]["effective"], "(none)");
    assert!(bind["explain"]["cause"].as_str().expect("cause").contains("outside the bounding set"), "{bind}");
    // What each denied call returned, seen at its exit: the bind failed with EACCES; setpriv's
    // capset, refused CAP_SETPCAP, succeeded anyway (it was said as EPERM).
    let returned = |syscall: &str| {
        events.iter().find(|event| event["returned"]["syscall"] == syscall).map(|event| event["returned"].clone()).unwrap_or_default()
    };
    assert_eq!(returned("bind")["errno"], "EACCES", "{events:?}");
    assert_eq!(returned("bind")["value"], -13);
    if events.iter().any(|event| event["syscall"] == "capset" && event["verdict"] == "denied") {
        assert_eq!(returned("capset")["value"], 0, "{events:?}");
        assert_eq!(returned("capset")["errno"], Value::Null);
    }
}

#[test]
fn json_lines_carry_the_documented_fields() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("owned");
    std::fs::write(&file, b"x").expect("write");
    let output = trace(&["--json", "-q", "--stacks"], &["chown", file.to_str().expect("utf-8"), "4242"]);
    let events = json_lines(&output);
    let chown = events.iter().find(|event| event["cap_name"] == "CAP_CHOWN").expect("a CAP_CHOWN event");
    for field in [
        "time",
        "pid",
        "tid",
        "uid",
        "comm",
        "cgroup",
        "unit",
        "cap",
        "cap_name",
        "verdict",
        "audit",
        "syscall",
        "syscall_nr",
        "foreign_userns",
        "stack",
    ] {
        assert!(chown.get(field).is_some(), "missing {field}: {chown}");
    }
    assert_eq!(chown["cap"], 0);
    assert_eq!(chown["verdict"], "granted");
    assert_eq!(chown["audit"], true);
    assert_eq!(chown["syscall"], "chown");
    assert_eq!(chown["comm"], "workload");
    assert!(chown["cgroup"].as_str().is_some_and(|path| path.starts_with("/capdisc-")), "the spawned command's own cgroup, named: {chown}");
    assert_eq!(chown["stack"][0], "cap_capable", "{chown}");
    assert!(events.iter().all(|event| event["audit"] == true), "no-audit checks are hidden by default");
}

#[test]
fn noaudit_checks_show_only_when_asked() {
    if skip_without_root() {
        return;
    }
    let shown = json_lines(&trace(&["--json", "-q", "--noaudit"], &["mmap", "50"]));
    let advisory: Vec<&Value> = shown.iter().filter(|event| event["cap_name"] == "CAP_SYS_ADMIN" && event["audit"] == false).collect();
    assert!(advisory.len() >= 50, "{} no-audit CAP_SYS_ADMIN events", advisory.len());
    let hidden = json_lines(&trace(&["--json", "-q"], &["mmap", "50"]));
    assert!(hidden.iter().all(|event| event["cap_name"] != "CAP_SYS_ADMIN"), "{hidden:?}");
}

#[test]
fn unique_collapses_repeats() {
    if skip_without_root() {
        return;
    }
    let all = json_lines(&trace(&["--json", "-q"], &["storm", "300"]));
    assert_eq!(all.iter().filter(|event| event["cap_name"] == "CAP_KILL").count(), 300);
    let unique = json_lines(&trace(&["--json", "-q", "--unique"], &["storm", "300"]));
    assert_eq!(unique.iter().filter(|event| event["cap_name"] == "CAP_KILL").count(), 1);
}

#[test]
fn a_flood_reports_its_losses() {
    if skip_without_root() {
        return;
    }
    let output = trace(&["--json", "-q", "--buffer-size", "4096"], &["storm", "300000"]);
    let events = json_lines(&output);
    let lost: u64 = events.iter().filter_map(|event| event["lost"].as_u64()).sum();
    let kills = events.iter().filter(|event| event["cap_name"] == "CAP_KILL").count() as u64;
    assert!(lost > 0, "a 4 KiB ring cannot hold a 300000-check storm");
    assert!(kills < 300_000);
    // Every CAP_KILL check is shown or counted as lost; the lost count also covers the few
    // other checks the workload makes (its child's setuid, memory accounting).
    assert!((300_000..300_100).contains(&(kills + lost)), "shown {kills} + lost {lost}");
}

/// A capability-less process (setpriv, as in the issue) stats a file its mode bits refuse, then
/// binds :443.
fn stat_then_bind(dir: &std::path::Path, extra: &[&str]) -> Output {
    let locked = dir.join("locked");
    std::fs::create_dir_all(&locked).expect("mkdir");
    std::fs::write(locked.join("file"), b"x").expect("write");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod 700");
    let script = format!("stat {}/file > /dev/null 2>&1; {} bind 443", locked.display(), workload().display());
    capdisc()
        // cargo's library path points into root's home, which nobody cannot search: every
        // dynamic load would add fallbacks of its own.
        .env_remove("LD_LIBRARY_PATH")
        .args(["trace", "--denied"])
        .args(extra)
        .args(["--", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "sh", "-c"])
        .arg(script)
        .output()
        .expect("run capdisc trace")
}

#[test]
fn file_permission_fallbacks_are_told_apart_and_the_bind_stands_out() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let locked = dir.path().join("locked");
    let output = stat_then_bind(dir.path(), &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let shown: Vec<&str> = text.lines().filter(|line| line.contains("DENIED")).collect();
    let bind = shown.iter().position(|line| line.contains("CAP_NET_BIND_SERVICE(10)") && line.ends_with("bind"));
    assert!(bind.is_some_and(|at| at < 3), "the bind denial among the first lines shown: {text}");
    assert!(!text.contains("a file-permission fallback"), "fallbacks hidden by default: {text}");
    assert!(stderr(&output).contains("file-permission fallback(s) hidden (--fallbacks shows them)"), "{}", stderr(&output));
    assert!(text.contains("cause: CAP_NET_BIND_SERVICE is outside the bounding set"), "{text}");

    let json = json_lines(&stat_then_bind(dir.path(), &["--fallbacks", "--json"]));
    let fallback = json
        .iter()
        .find(|event| event["path"].as_str().is_some_and(|path| path.starts_with(&locked.display().to_string())))
        .unwrap_or_else(|| panic!("a fallback denial on the locked path: {json:?}"));
    assert_eq!(fallback["errno"], "EACCES", "{fallback}");
    assert_eq!(fallback["fallback"]["caller"], "generic_permission", "{fallback}");
    assert!(fallback["explain"]["cause"].as_str().is_some_and(|cause| cause.contains("usually not a capability to grant")), "{fallback}");
    let bind = json.iter().find(|event| event["syscall"] == "bind").expect("the bind denial");
    assert_eq!(bind["fallback"], Value::Null);
    assert_eq!(bind["errno"], "EACCES");
}
