//! The shipped `capdisc-watch.service` (its own hardening) watching every unit with a learned
//! baseline: a unit that starts using CAP_KILL after a change is reported in the journal under
//! its unit name, once, with capdisc's MESSAGE_ID; a restart of the watch keeps the counts; the
//! host report reads its state.
use capdisc_guest_tests::{
    command::{capdisc, run},
    expect, guest, unit, wait,
};

const WATCH: &str = "capdisc-watch.service";
const CREEP: &str = "creep.service";
/// capdisc's creep MESSAGE_ID (README, "capdisc watch").
const CREEP_ID: &str = "5f3b0c1e9a7d4b2c8e6f1a0d3c9b7e21";
const STATE: &str = "/var/lib/capdisc/watch";
const FLAG: &str = "/run/creep-now";
const KILL_SERIES: &str = "capdisc_capability_checks_total{target=\"creep.service\",capability=\"CAP_KILL\",verdict=\"granted\"}";

/// The CAP_KILL count of creep.service in the watch's metrics, if it is there.
fn kill_count() -> Option<u64> {
    let metrics = run("curl", &["-s", "--max-time", "5", "http://127.0.0.1:9733/metrics"]).stdout;
    metrics.lines().find_map(|line| line.strip_prefix(KILL_SERIES)?.trim().parse::<f64>().ok()).map(|count| count as u64)
}

/// creep.service's journal entries about its baseline, since `mark`.
fn creep_entries(mark: &str) -> Vec<String> {
    unit::journal_after(CREEP, mark).lines().filter(|line| line.contains("outside its baseline")).map(str::to_owned).collect()
}

#[test]
fn s12_the_watch_service_reports_creep_once_and_keeps_counts() {
    guest!();
    unit::systemctl(&["stop", WATCH, CREEP]);
    let _ = std::fs::remove_file(FLAG);
    let _ = std::fs::remove_dir_all(STATE);
    let mark = unit::journal_mark();
    unit::systemctl(&["start", CREEP]).expect_exit(0);
    std::fs::create_dir_all("/etc/default").expect("/etc/default");
    std::fs::write("/etc/default/capdisc-watch", "CAPDISC_WATCH_OPTIONS=--learn 15s --listen 127.0.0.1:9733 --interval 2\n")
        .expect("the watch's options");
    unit::systemctl(&["start", WATCH]).expect_exit(0);
    let watch_log = || unit::journal_after(WATCH, &mark);
    wait::must(60, "capdisc: watching", || watch_log().contains("capdisc: watching"), || unit::tail(&watch_log(), 40));
    wait::must(120, "the baseline of creep.service learned", || watch_log().contains("learned the baseline of creep.service"), watch_log);
    let learned = watch_log().lines().find_map(|line| Some(line.split_once("learned the baseline of creep.service: ")?.1.to_owned()));
    expect::equal("creep.service's learned baseline", &learned.as_deref(), &Some("no capabilities"));

    std::fs::write(FLAG, "").expect("the creep flag");
    wait::must(
        60,
        "creep.service's CAP_KILL reported",
        || creep_entries(&mark).iter().any(|entry| entry.contains("CAP_KILL")),
        || unit::tail(&watch_log(), 20),
    );
    let first = creep_entries(&mark).into_iter().next().unwrap_or_default();
    expect::that(
        first.starts_with("creep.service used CAP_KILL outside its baseline"),
        "creep.service used CAP_KILL outside its baseline",
        &first,
    );
    let entries = unit::journal_export(&[&format!("MESSAGE_ID={CREEP_ID}"), "OBJECT_SYSTEMD_UNIT=creep.service"], &mark);
    expect::that(
        entries.iter().any(|entry| entry.get("PRIORITY").map(String::as_str) == Some("4")),
        "the entry at priority 4 with capdisc's MESSAGE_ID",
        &entries,
    );

    std::fs::remove_file(FLAG).expect("the creep flag");
    // The loop has stopped checking: wait for a count that holds still over 3 s.
    let settled = || {
        let first = kill_count();
        std::thread::sleep(std::time::Duration::from_secs(3));
        first.is_some_and(|count| count > 0) && kill_count() == first
    };
    wait::must(60, "the CAP_KILL count settled", settled, || format!("{:?}", kill_count()));
    let before_restart = kill_count();
    unit::systemctl(&["restart", WATCH]).expect_exit(0);
    wait::must(60, "the metrics back after the restart", || kill_count().is_some(), || unit::tail(&watch_log(), 20));
    expect::equal("the CAP_KILL count across a restart", &kill_count(), &before_restart);
    // Announced once: a second entry would come within the watch's 2 s interval.
    expect::that(!wait::until(3, || creep_entries(&mark).len() > 1), "the creep announced once", creep_entries(&mark));
    // CAP_BPF CAP_PERFMON CAP_SYSLOG, as packaging/capdisc-watch.service declares.
    expect::equal("the watch's bounding set", unit::capbnd(WATCH).as_str(), "000000c400000000");
    let report = capdisc(&["report", "--state-dir", STATE]);
    report.expect_exit(0);
    let row: Vec<&str> =
        report.stdout.lines().find(|line| line.starts_with("creep.service ")).unwrap_or_default().split_whitespace().collect();
    expect::that(
        row.len() == 6 && row[1..5] == ["kill", "kill", "-", "kill"],
        "creep.service: declared, used, held but unused, creep",
        report.output(),
    );
    unit::systemctl(&["stop", WATCH, CREEP]);
}
