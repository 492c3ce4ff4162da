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
    assert_eq!(lines.len(), 3, "header, the denial and its explanation: {text}");
    assert!(lines[1].contains("CAP_NET_BIND_SERVICE(10)") && lines[1].contains("DENIED") && lines[1].ends_with("bind"), "{text}");
    assert!(lines[2].contains("which permission: CAP_NET_BIND_SERVICE in bind (bind() fails with EACCES)"), "{text}");
    assert!(lines[2].contains("AmbientCapabilities=CAP_NET_BIND_SERVICE (or a file capability) is missing"), "{text}");
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
