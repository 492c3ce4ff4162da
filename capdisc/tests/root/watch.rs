//! `capdisc watch` on real checks: exact counters, creep, a real Prometheus scraping it, the
//! state directory (`diff` flags it; a restart resumes without counting twice), and a gone
//! cgroup folded out of the kernel map; re-created and missing targets; counters that never go
//! back after a SIGKILL; hardening regressions; baselines that say what they are.
use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use crate::{
    common::{capdisc, skip_without_root},
    watching::{empty_baseline, storm_in, wait_until, Prometheus, TestCgroup, Watch, KILL_CREEP, KILL_GRANTED},
};

#[test]
fn watch_counts_exactly_flags_creep_serves_prometheus_and_resumes() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (baseline, state) = (empty_baseline(dir.path()), dir.path().join("state"));
    let cgroup = TestCgroup::make("capdisc-watch-test");
    let name = cgroup.name();
    let series = |template: &str| template.replace("CG", &name);

    let watch = Watch::start(&cgroup.0, &baseline, &state);
    storm_in(&cgroup.0, 100_000);
    let counted = wait_until("100000 checks on /metrics", || watch.metric(&series(KILL_GRANTED)).filter(|count| *count >= 100_000));
    assert_eq!(counted, Some(100_000), "exactly the storm's checks; stderr:\n{}", watch.stderr());
    watch.wait_for("capability=CAP_KILL syscall=kill comm=workload", "the creep line");
    assert_eq!(watch.metric(&series(KILL_CREEP)), Some(100_000));
    // Notes are not losses: counted under their own name (they were under capdisc_lost_total).
    assert!(watch.metric(r#"capdisc_noted_total{reason="skipped_before_exec"}"#).is_some(), "stderr:\n{}", watch.stderr());
    assert!(watch.metric(r#"capdisc_noted_total{reason="call_site_slots_full"}"#).is_some());
    assert_eq!(watch.metric(r#"capdisc_lost_total{reason="skipped_before_exec"}"#), None);
    assert_eq!(watch.metric(r#"capdisc_lost_total{reason="checks_map_full"}"#), Some(0));

    // A real Prometheus scrapes the endpoint and answers for the series.
    let prometheus = Prometheus::start(dir.path(), watch.port).expect("prometheus is installed (cargo xtask setup installs it)");
    let query = format!(r#"capdisc_capability_checks_total{{target="{name}",capability="CAP_KILL",verdict="granted"}}"#);
    let scraped = wait_until("Prometheus to scrape", || prometheus.query(&query));
    assert_eq!(
        scraped.as_deref(),
        Some("100000"),
        "prometheus log: {}",
        fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
    drop(prometheus);

    let stderr = watch.terminate();
    assert_eq!(stderr.matches("capability=CAP_KILL").count(), 1, "creep is announced once:\n{stderr}");
    let profile_path = state.join("targets").join(format!("{}.yaml", name.replace('/', "%2F")));
    let diff = capdisc().arg("diff").arg(&baseline).arg(&profile_path).output().expect("run diff");
    assert_eq!(diff.status.code(), Some(1), "diff flags the creep: {}", String::from_utf8_lossy(&diff.stdout));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("CAP_KILL"));

    // A restart resumes: the count continues from 100000, never counted twice; when the cgroup
    // is gone (as a restarted unit's old cgroup), its keys are folded out of the kernel map with
    // their counts kept.
    let watch = Watch::start(&cgroup.0, &baseline, &state);
    assert_eq!(wait_until("the resumed count", || watch.metric(&series(KILL_GRANTED))), Some(100_000));
    storm_in(&cgroup.0, 1_000);
    let counted = wait_until("101000", || watch.metric(&series(KILL_GRANTED)).filter(|count| *count >= 101_000));
    assert_eq!(counted, Some(101_000));
    // The storm's own keys (kill, the child's setuid/setgid, no-audit probes) outnumber the CPUs.
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get() as u64);
    let held = wait_until("kernel keys", || watch.metric("capdisc_kernel_keys ").filter(|keys| *keys > cpus));
    assert!(held.is_some(), "the live cgroup's keys are in the kernel map");
    fs::remove_dir(&cgroup.0).expect("rmdir the watched cgroup");
    // Folded out, but for the last key each CPU counted (its per-CPU memo holds it until that CPU
    // counts another): at most one per CPU.
    let folded = wait_until("the gone cgroup's keys folded", || watch.metric("capdisc_kernel_keys ").filter(|keys| *keys <= cpus));
    assert!(folded.is_some(), "a gone cgroup's keys leave the kernel map");
    assert_eq!(watch.metric(&series(KILL_GRANTED)), Some(101_000), "folding keeps the counts");
    let stderr = watch.terminate();
    assert!(!stderr.contains("creep:"), "creep already announced before the restart is not announced again:\n{stderr}");
    let profile = capdisc::profile::read(&profile_path).expect("resumed profile");
    assert_eq!(profile.capability("CAP_KILL").map(|cap| cap.granted), Some(101_000));

    let report = capdisc().args(["report", "--json", "--state-dir"]).arg(&state).output().expect("run report");
    let rows: serde_json::Value = serde_json::from_slice(&report.stdout).expect("report --json");
    let row = rows.as_array().and_then(|rows| rows.iter().find(|row| row["target"] == name.as_str())).expect("a row for the cgroup");
    let has_kill = |field: &str| row[field].as_array().is_some_and(|caps| caps.iter().any(|cap| cap == "CAP_KILL"));
    assert!(has_kill("used") && has_kill("creep"), "report row: {row}");
    assert!(row["checks"].as_u64().is_some_and(|checks| checks >= 101_000), "report row: {row}");
    assert!(row["declared"].is_null(), "a cgroup declares no bounding set: {row}");
    let table = capdisc().args(["report", "--state-dir"]).arg(&state).output().expect("run report");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|line| line.starts_with(&name) && line.contains("kill")), "report table:\n{text}");
}

#[test]
fn a_denial_outside_a_proven_baseline_is_a_hardening_regression() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (baseline, state) = (dir.path().join("proven.yaml"), dir.path().join("state"));
    // A proven baseline: `true` needs no capability, and minimize proves it.
    let proven = capdisc().args(["minimize", "-q", "-o"]).arg(&baseline).args(["--", "true"]).output().expect("minimize true");
    assert!(proven.status.success(), "{}", String::from_utf8_lossy(&proven.stderr));
    assert!(capdisc::profile::read(&baseline).expect("baseline").proven());
    let cgroup = TestCgroup::make("capdisc-regression-test");
    let name = cgroup.name();

    let watch = Watch::start(&cgroup.0, &baseline, &state);
    // A non-root process signals root's init three times: CAP_KILL denied, audited.
    let script = format!(
        "echo $$ > '{}/cgroup.procs' && exec setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'kill -0 1; kill -0 1; kill -0 1; true'",
        cgroup.0.display()
    );
    let status = Command::new("sh").arg("-c").arg(script).stderr(Stdio::null()).status().expect("run the denied kills");
    assert!(status.success(), "{status:?}");
    let series = format!(r#"capdisc_hardening_regressions_total{{target="{name}",capability="CAP_KILL"}}"#);
    let counted = wait_until("the regression counter", || watch.metric(&series).filter(|count| *count >= 3));
    assert_eq!(counted, Some(3), "stderr:\n{}", watch.stderr());
    watch.wait_for(&format!("hardening regression: {name} was denied CAP_KILL (3 time(s) in kill by sh)"), "the regression line");
    let stderr = watch.terminate();
    // A --cgroup target that is no unit's: the ways out name what starts the service, never
    // `systemctl edit /PATH` (which systemd would refuse).
    assert!(stderr.contains("outside its proven set; re-prove the service that runs in it over the path that failed"), "{stderr}");
    assert!(stderr.contains("or add just CAP_KILL where it is started"), "{stderr}");
    assert!(!stderr.contains("systemctl edit"), "{stderr}");
    assert!(!stderr.contains(&format!("creep: target={name} capability=CAP_KILL")), "announced once, as a regression:\n{stderr}");
    // The exec's PATH lookups refused by mode bits are file-permission fallbacks: not regressions.
    assert!(!stderr.contains("was denied CAP_DAC_OVERRIDE"), "{stderr}");
}

#[test]
fn a_recreated_cgroup_is_counted_again_and_a_missing_one_is_waited_for() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (baseline, state) = (empty_baseline(dir.path()), dir.path().join("state"));
    let (here, later) = (TestCgroup::make("capdisc-recreated"), TestCgroup::planned("capdisc-later"));
    let name = TestCgroup::name;
    let granted = |cgroup: &TestCgroup| KILL_GRANTED.replace("CG", &name(cgroup));

    let watch = Watch::start_on(&[&here.0, &later.0], &baseline, &state);
    watch.wait_for(&format!("cgroup {} is not there yet: waiting for it", name(&later)), "the missing target said");
    storm_in(&here.0, 1_000);
    assert_eq!(wait_until("1000", || watch.metric(&granted(&here)).filter(|count| *count >= 1_000)), Some(1_000));
    let present = |cgroup: &TestCgroup| watch.metric(&format!(r#"capdisc_target_present{{target="{}"}}"#, name(cgroup)));
    assert_eq!((present(&here), present(&later)), (Some(1), Some(0)));

    // Removed and made again, with a storm in it at once: its first checks are counted.
    fs::remove_dir(&here.0).expect("rmdir the watched cgroup");
    watch.wait_for(&format!("cgroup {} is gone: waiting for it to come back", name(&here)), "the gone target said");
    fs::create_dir(&here.0).expect("mkdir it again");
    storm_in(&here.0, 500);
    let counted = wait_until("1500", || watch.metric(&granted(&here)).filter(|count| *count >= 1_500));
    assert_eq!(counted, Some(1_500), "stderr:\n{}", watch.stderr());
    // The missing one appears and is counted from its first task.
    fs::create_dir(&later.0).expect("mkdir the missing cgroup");
    storm_in(&later.0, 200);
    assert_eq!(
        wait_until("200", || watch.metric(&granted(&later)).filter(|count| *count >= 200)),
        Some(200),
        "stderr:\n{}",
        watch.stderr()
    );
    assert_eq!(wait_until("present", || present(&later).filter(|value| *value == 1)), Some(1));
    let stderr = watch.terminate();
    assert!(stderr.contains(&format!("cgroup {} is there again: counting it", name(&here))), "{stderr}");
    assert_eq!(stderr.matches(&format!("cgroup {} is gone", name(&here))).count(), 1, "said once:\n{stderr}");
}

#[test]
fn after_sigkill_a_restarted_watch_never_exports_less_and_prometheus_sees_no_reset() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (baseline, state) = (empty_baseline(dir.path()), dir.path().join("state"));
    let cgroup = TestCgroup::make("capdisc-sigkill");
    let name = cgroup.name();
    let series = KILL_GRANTED.replace("CG", &name);

    // State written every 8 s: SIGKILL comes right after the count is exported (long before the
    // next write, were the counters ahead of the state).
    let watch = Watch::start_with(&[&cgroup.0], &baseline, &state, "8");
    let prometheus = Prometheus::start(dir.path(), watch.port).expect("prometheus is installed (cargo xtask setup installs it)");
    storm_in(&cgroup.0, 1_000);
    let exported = wait_until("1000 exported", || watch.metric(&series).filter(|count| *count >= 1_000));
    assert_eq!(exported, Some(1_000));
    let query = format!(r#"capdisc_capability_checks_total{{target="{name}",capability="CAP_KILL",verdict="granted"}}"#);
    assert_eq!(wait_until("Prometheus scraped 1000", || prometheus.query(&query).filter(|value| value == "1000")).as_deref(), Some("1000"));
    let port = watch.port;
    watch.sigkill();

    // The restart on the same port and state: at least what was exported, from its first answer.
    let restarted = Watch::start_at(&[&cgroup.0], &baseline, &state, "8", port);
    let first = wait_until("the restarted endpoint", || restarted.metric(&series));
    assert!(first.is_some_and(|count| count >= 1_000), "the restart exported {first:?} after 1000");
    storm_in(&cgroup.0, 500);
    assert_eq!(wait_until("1500", || restarted.metric(&series).filter(|count| *count >= 1_500)), Some(1_500));
    assert_eq!(wait_until("Prometheus scraped 1500", || prometheus.query(&query).filter(|value| value == "1500")).as_deref(), Some("1500"));
    // Prometheus saw no counter reset, so its increase over the restart is the 500 checks made
    // (extrapolated a little to the window's edges), not the whole count again.
    let resets = prometheus.query(&format!("resets({query}[10m])"));
    assert_eq!(resets.as_deref(), Some("0"), "a counter reset over the restart");
    let increase: f64 = prometheus.query(&format!("increase({query}[10m])")).and_then(|value| value.parse().ok()).unwrap_or(-1.0);
    assert!((500.0..1_000.0).contains(&increase), "increase over the restart: {increase}");
    restarted.sigkill();
}

#[test]
fn baselines_say_what_they_are_and_a_bad_state_dir_is_a_usage_error() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline = empty_baseline(dir.path());
    let cgroup = TestCgroup::make("capdisc-baselines");
    let watch = |args: &[&str], state: &Path| {
        capdisc().args(["watch", "--cgroup"]).arg(&cgroup.0).arg("--state-dir").arg(state).args(args).output().expect("run watch")
    };
    let stderr = |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).into_owned();

    // A baseline that lost checks under-states the service: refused, with the way past it.
    let mut lossy = capdisc::profile::read(&baseline).expect("baseline");
    lossy.losses.checks_map_full = 2;
    let lossy_path = dir.path().join("lossy.yaml");
    fs::write(&lossy_path, serde_yaml::to_string(&lossy).expect("yaml")).expect("write");
    let lossy_arg = lossy_path.display().to_string();
    let refused = watch(&["--baseline", &lossy_arg, "--duration", "1"], &dir.path().join("s1"));
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("is incomplete: 2 check(s) lost") && stderr(&refused).contains("--allow-lossy"),
        "{}",
        stderr(&refused)
    );
    let allowed = watch(&["--baseline", &lossy_arg, "--allow-lossy", "--duration", "1"], &dir.path().join("s2"));
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));

    // A state directory that is a file: a usage error naming it.
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"x").expect("write");
    let bad = watch(&["--learn", "1s", "--duration", "1"], &file);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains(&format!("--state-dir {} is not a directory", file.display())), "{}", stderr(&bad));

    // A learned baseline's window is the learning window, not the last change's instant.
    let state = dir.path().join("s3");
    let learned = watch(&["--learn", "3s", "--duration", "6", "--interval", "1"], &state);
    assert_eq!(learned.status.code(), Some(0), "{}", stderr(&learned));
    let file = cgroup.name().replace('/', "%2F");
    let learned = capdisc::profile::read(&state.join("baselines").join(format!("{file}.yaml"))).expect("the learned baseline");
    assert!((3.0..6.0).contains(&learned.duration_secs), "learned over {} s", learned.duration_secs);
}
