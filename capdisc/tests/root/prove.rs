//! `minimize` and `verify` on real workloads: a root workload that binds :443 (a need) and lists a
//! directory whose mode bits refuse root (a file-permission fallback it can live without).
use std::{fs, os::unix::fs::PermissionsExt};

use capdisc::classify::Class;

use crate::common::*;

/// A directory no mode bit lets anyone into (root reaches it only through CAP_DAC_READ_SEARCH).
fn locked_dir(dir: &std::path::Path) -> String {
    let locked = dir.join("locked");
    fs::create_dir(&locked).expect("mkdir");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod 000");
    locked.display().to_string()
}

#[test]
fn minimize_proves_the_bind_and_drops_the_fallback_with_its_path() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let locked = locked_dir(dir.path());
    let out = dir.path().join("proven.yaml");
    let workload = workload().display().to_string();
    let output = capdisc()
        .args(["minimize", "-q", "-o"])
        .arg(&out)
        .args(["--", &workload, "peek-and-bind", &locked, "443"])
        .output()
        .expect("minimize");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let profile = capdisc::profile::read(&out).expect("profile");
    let dac = cap(&profile, "CAP_DAC_READ_SEARCH");
    assert_eq!(dac.class, Class::Conditional, "{:?}", dac.reason);
    assert_eq!(dac.paths, vec![locked.clone()], "the path the system call named");
    let proof = profile.verification.as_ref().expect("verification section");
    assert!(proof.passed);
    let verdict = |name: &str| proof.capabilities.iter().find(|verdict| verdict.name == name).expect("verdict").clone();
    assert_eq!(verdict("CAP_DAC_READ_SEARCH").verdict, capdisc::profile::Decision::Dropped);
    assert!(
        verdict("CAP_DAC_READ_SEARCH").evidence.contains(&format!("denied 1 time(s) in openat {locked}")),
        "{:?}",
        verdict("CAP_DAC_READ_SEARCH")
    );
    assert_eq!(verdict("CAP_NET_BIND_SERVICE").verdict, capdisc::profile::Decision::Kept);
    assert!(
        verdict("CAP_NET_BIND_SERVICE").evidence.contains("denied CAP_NET_BIND_SERVICE in bind (EACCES"),
        "{:?}",
        verdict("CAP_NET_BIND_SERVICE")
    );
    assert_eq!(proof.trials.len(), 3, "one for the whole set, one per capability");
    let names: Vec<&str> = profile.grants().iter().map(|cap| cap.name.as_str()).collect();
    assert_eq!(names, vec!["CAP_NET_BIND_SERVICE"]);
    let dropin = String::from_utf8_lossy(&capdisc().arg("generate").arg(&out).output().expect("generate").stdout).into_owned();
    assert!(
        dropin.contains("\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n") && dropin.contains("# Proven by capdisc minimize"),
        "{dropin}"
    );
    assert!(dropin.ends_with("NoNewPrivileges=yes\n"), "the workload binary gains nothing on exec: {dropin}");
    assert!(profile.executables.contains(&workload), "{:?}", profile.executables);

    // verify: the proven set passes; the set of a recording of `true` fails, naming the bind.
    let verify = |profile: &std::path::Path| {
        capdisc().args(["verify", "-q"]).arg(profile).args(["--", &workload, "peek-and-bind", &locked, "443"]).output().expect("verify")
    };
    let passed = verify(&out);
    assert_eq!(passed.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&passed.stdout), stderr(&passed));
    let nothing = record(&[], &["--", "true"]);
    let empty = dir.path().join("true.yaml");
    fs::write(&empty, serde_yaml::to_string(&nothing.profile).expect("yaml")).expect("write");
    let failed = verify(&empty);
    let text = String::from_utf8_lossy(&failed.stdout).into_owned();
    assert_eq!(failed.status.code(), Some(1), "{text}");
    assert!(text.contains("verify: FAILED: the command exited with 1, not 0"), "{text}");
    let first_denial = text.lines().find(|line| line.contains("denied:")).unwrap_or_default();
    assert!(first_denial.contains("CAP_NET_BIND_SERVICE in bind (EACCES"), "the need first, fallbacks after: {text}");
}

#[test]
fn grow_reaches_exactly_what_the_workload_needs_from_nothing() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("owned");
    fs::write(&file, b"x").expect("write");
    let out = dir.path().join("grown.yaml");
    let workload = workload().display().to_string();
    let output = capdisc()
        .args(["minimize", "--grow", "-q", "-o"])
        .arg(&out)
        .args(["--", &workload, "bind-and-chown", "443", file.to_str().expect("utf-8"), "1000"])
        .output()
        .expect("minimize --grow");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let profile = capdisc::profile::read(&out).expect("profile");
    assert_eq!(profile.granted_names(), vec!["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    let proof = profile.verification.as_ref().expect("verification");
    assert_eq!(proof.method, capdisc::profile::Method::Grow);
    let sets: Vec<Vec<String>> = proof.trials.iter().map(|trial| trial.set.clone()).collect();
    assert_eq!(
        sets,
        vec![vec![], vec!["CAP_NET_BIND_SERVICE".to_owned()], vec!["CAP_CHOWN".to_owned(), "CAP_NET_BIND_SERVICE".to_owned()]]
    );
    assert!(proof.trials[0].denials.iter().any(|denial| denial.starts_with("CAP_NET_BIND_SERVICE in bind")), "{:?}", proof.trials[0]);

    // A failure that no capability explains stops with exit 1, saying so.
    let output =
        capdisc().args(["minimize", "--grow", "-q", "-o"]).arg(dir.path().join("never.yaml")).args(["--", "false"]).output().expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("with no denied capability to add: not a capability problem"), "{}", stderr(&output));
    assert!(!dir.path().join("never.yaml").exists());

    // A failure a seccomp filter caused is named from the kernel's evidence: the call, what it
    // returned, its systemd group.
    let output = capdisc()
        .args(["minimize", "--grow", "-q", "-o"])
        .arg(dir.path().join("filtered.yaml"))
        .args(["--", &workload, "filtered", "adjtimex", "1"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "not a capability problem: refused by the sandbox: adjtimex refused by a seccomp filter (EPERM; 1 time(s), by workload)"
        ),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("adjtimex is in systemd's @clock"), "{}", stderr(&output));
}
