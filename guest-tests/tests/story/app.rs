//! The story's unit (`app.service`: non-root, ambient CAP_NET_BIND_SERVICE, an empty bounding
//! set): it fails; lint and trace name why; a recording and `apply` fix it; a recording attached
//! to the running service sees its reload; and whatever capdisc changes is undone when capdisc
//! is killed, or left behind by an older capdisc.
use std::time::Instant;

use capdisc_guest_tests::{
    command::{capdisc, Started},
    expect, guest, unit, wait,
};

use super::{app_fixed, app_recording, required, APP, APP_URL};

/// The bounding set of a unit capdisc lifted for a permissive recording (every capability).
const LIFTED: &str = "000001ffffffffff";
/// The runtime drop-in of a permissive recording.
const PERMISSIVE: &str = "/run/systemd/system/app.service.d/zz-capdisc-permissive.conf";

#[test]
fn s01_the_broken_unit_fails_with_bind_permission_denied() {
    guest!();
    unit::shipped(APP);
    let mark = unit::journal_mark();
    unit::systemctl(&["start", APP]);
    wait::must(
        20,
        "the journal says bind: permission denied",
        || unit::journal_after(APP, &mark).contains("bind: permission denied"),
        || unit::journal_after(APP, &mark),
    );
    let state = wait::for_value(20, || unit::state(APP), |state| state != "activating");
    expect::that(state != "active", "the unit not active", &state);
    capdisc_guest_tests::report(&format!("exposure of the broken unit: {:?}", unit::exposure(APP, false)));
}

#[test]
fn s02_lint_names_the_empty_bounding_set() {
    guest!();
    unit::shipped(APP);
    capdisc(&["lint", APP])
        .expect_exit(1)
        .expect_says("AmbientCapabilities=CAP_NET_BIND_SERVICE is dropped because CapabilityBoundingSet= is empty");
}

#[test]
fn s02b_trace_answers_which_permission() {
    guest!();
    unit::shipped(APP);
    let trace = capdisc(&["trace", "--denied", "--json", "-q", "--unit", APP, "--restart", "--duration", "10"]);
    trace.expect_exit(0);
    let answer = trace.stdout.lines().any(|line| {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { return false };
        event["cap_name"] == "CAP_NET_BIND_SERVICE"
            && event["unit"] == APP
            && event["syscall"] == "bind"
            && event["errno"] == "EACCES"
            && line.contains("outside the bounding set")
    });
    expect::that(answer, "a line: app.service, CAP_NET_BIND_SERVICE in bind, EACCES, outside the bounding set", trace.output());
}

#[test]
fn s03_a_permissive_recording_finds_exactly_cap_net_bind_service() {
    guest!();
    let (profile, recorded) = app_recording();
    recorded.expect_exit(0);
    expect::equal("required", &required(profile), &vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    expect::equal("capdisc's drop-ins left on app.service", &unit::capdisc_dropins(APP), &Vec::<String>::new());
}

#[test]
fn s04a_apply_refuses_to_widen_unasked() {
    guest!();
    let (profile, recorded) = app_recording();
    recorded.expect_exit(0);
    unit::shipped(APP);
    capdisc(&["apply", profile, "--unit", APP])
        .expect_exit(1)
        .expect_says("apply widens app.service: CAP_NET_BIND_SERVICE (bind: ")
        .expect_says("rerun with --allow-widen");
    expect::equal("capdisc's drop-ins written", &unit::capdisc_dropins(APP), &Vec::<String>::new());
}

#[test]
fn s04_apply_with_consent_fixes_the_story() {
    guest!();
    let (profile, recorded) = app_recording();
    recorded.expect_exit(0);
    unit::shipped(APP);
    let applied = capdisc(&["apply", profile, "--unit", APP, "--allow-widen"]);
    applied.expect_exit(0);
    capdisc_guest_tests::report(&applied.output());
    unit::restart_until(APP, 20, || unit::answers(APP_URL));
    expect::equal("the unit's state", unit::state(APP).as_str(), "active");
    expect::equal("its answer on :443", unit::http(APP_URL).1.trim(), "capdisc demo");
    let pid = unit::main_pid(APP).map(|pid| pid.to_string()).unwrap_or_default();
    capdisc_guest_tests::report(&format!("capdisc status {pid}:\n{}", capdisc(&["status", &pid]).output()));
}

#[test]
fn s05_the_fix_exposes_no_more_than_the_hand_written_one() {
    guest!();
    app_fixed();
    let (after, handfix) = (unit::exposure(APP, false), unit::exposure("/etc/capdisc/app.service", true));
    capdisc_guest_tests::report(&format!("exposure after apply {after:?}, of the story's hand-written fix {handfix:?}"));
    expect::that(matches!((after, handfix), (Some(after), Some(handfix)) if after <= handfix), "after <= hand-written", (after, handfix));
}

#[test]
fn s06_a_recording_attached_without_restart_sees_the_reload() {
    guest!();
    app_fixed();
    let recorder = Started::new("capdisc", &["record", "--unit", APP, "--duration", "20", "-o", "/root/attached.yaml"], "attached");
    wait::must(30, "capdisc: recording", || recorder.output().contains("capdisc: recording"), || recorder.output());
    let mark = unit::journal_mark();
    unit::systemctl(&["reload", APP]).expect_exit(0);
    wait::must(
        20,
        "the service bound :443 again",
        || unit::journal_after(APP, &mark).contains("reloaded: bound :443 again"),
        || unit::journal_after(APP, &mark),
    );
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    let required = required("/root/attached.yaml");
    expect::that(required.iter().any(|cap| cap == "CAP_NET_BIND_SERVICE"), "CAP_NET_BIND_SERVICE required", &required);
    expect::equal("the unit's state", unit::state(APP).as_str(), "active");
}

#[test]
fn s07_a_killed_recording_is_undone_by_its_guardian() {
    guest!();
    app_fixed();
    let before = unit::capbnd(APP);
    let victim = Started::new(
        "capdisc",
        &["record", "--unit", APP, "--restart", "--permissive", "--duration", "300", "-o", "/tmp/killed.yaml"],
        "killed",
    );
    wait::must(20, "capdisc: recording", || victim.output().contains("capdisc: recording"), || victim.output());
    wait::must(20, "the bounding set lifted", || unit::capbnd(APP) == LIFTED, || unit::capbnd(APP));
    // A second capdisc on the same unit refuses, naming the holder.
    capdisc(&["record", "--unit", APP, "--restart", "--duration", "5", "-o", "/tmp/second.yaml"])
        .expect_exit(2)
        .expect_says(&format!("app.service is being changed by another capdisc (capdisc pid {}", victim.pid()));
    victim.signal(libc::SIGKILL);
    let killed = Instant::now();
    let restored = || !std::path::Path::new(PERMISSIVE).exists() && unit::is_active(APP) && unit::capbnd(APP) == before;
    wait::must(30, "the unit under its own set again, the drop-in gone", restored, || {
        format!("{} CapBnd {} (was {before}); drop-ins {:?}", unit::state(APP), unit::capbnd(APP), unit::capdisc_dropins(APP))
    });
    capdisc_guest_tests::report(&format!("the guardian restored app.service {} s after kill -9", wait::seconds_since(killed)));
    drop(victim);
    capdisc_guest_tests::report(&capdisc_guardian_lines());
}

/// The guardian's lines in the journal.
fn capdisc_guardian_lines() -> String {
    let all = capdisc_guest_tests::command::run("journalctl", &["--no-pager", "-o", "cat"]).stdout;
    all.lines().filter(|line| line.contains("capdisc guardian")).collect::<Vec<_>>().join("\n")
}

#[test]
fn s08_a_leftover_dropin_is_reported_refused_and_restored() {
    guest!();
    app_fixed();
    let before = unit::capbnd(APP);
    // As an older capdisc killed before its guardian was up would leave it.
    std::fs::create_dir_all("/run/systemd/system/app.service.d").expect("the runtime drop-in directory");
    std::fs::write(PERMISSIVE, "[Service]\nCapabilityBoundingSet=~\nAmbientCapabilities=~\n").expect("the leftover");
    unit::systemctl(&["daemon-reload"]);
    unit::restart_until(APP, 20, || unit::is_active(APP) && unit::capbnd(APP) == LIFTED);
    capdisc(&["lint", APP])
        .expect_exit(1)
        .expect_says("no running capdisc owns")
        .expect_says("fix: capdisc restore --unit app.service")
        .expect_says("holds CAP_SYS_ADMIN as an ambient capability, which amounts to root");
    capdisc(&["record", "--unit", APP, "--duration", "2", "-o", "/tmp/leftover.yaml"])
        .expect_exit(2)
        .expect_says("clear it with `capdisc restore --unit app.service`");
    capdisc(&["restore", "--unit", APP]).expect_exit(0);
    expect::that(!std::path::Path::new(PERMISSIVE).exists(), "the leftover removed", PERMISSIVE);
    let capbnd = wait::for_value(20, || unit::capbnd(APP), |capbnd| *capbnd == before);
    expect::equal("the unit's bounding set after restore", capbnd.as_str(), before.as_str());
}
