//! The python service of the measurement (`api.service`): its CAP_DAC_READ_SEARCH is
//! only conditional (a walk under the unreachable $HOME) and root-equivalent, so `apply` leaves it
//! out and `minimize` proves it unneeded; a trial killed (SIGKILL) or interrupted (SIGINT) leaves
//! the unit under its own set and its check dead.
use std::time::Instant;

use capdisc::{classify::Class, profile::Decision};
use capdisc_guest_tests::{
    command::{capdisc, sh, Started},
    expect, guest, profile, unit, wait,
};

use super::{api_minimized, request_when_up, API, API_URL};

const ONLY_BIND: &str = "cap_net_bind_service";
/// The runtime drop-in of a verify trial.
const TRIAL: &str = "/run/systemd/system/api.service.d/zz-capdisc-trial.conf";

/// Whether the service answers 200 under what it now has, after a restart.
fn serves_after_restart() {
    unit::restart_until(API, 60, || unit::answers(API_URL));
    expect::equal("HTTP status", unit::http(API_URL).0.as_str(), "200");
}

fn expect_only_bind() {
    expect::equal("CapabilityBoundingSet", unit::property(API, "CapabilityBoundingSet").as_str(), ONLY_BIND);
    expect::equal("AmbientCapabilities", unit::property(API, "AmbientCapabilities").as_str(), ONLY_BIND);
}

#[test]
fn s09a_apply_leaves_the_root_equivalent_conditional_out() {
    guest!();
    unit::shipped(API);
    let client = request_when_up(API_URL, 20);
    let recorded =
        capdisc(&["record", "--unit", API, "--restart", "--permissive", "--duration", "20", "--json", "-o", "/root/api-recorded.json"]);
    let _ = client.join();
    recorded.expect_exit(0);
    let recording = profile("/root/api-recorded.json");
    let dac: Vec<Class> = recording.capabilities.iter().filter(|cap| cap.name == "CAP_DAC_READ_SEARCH").map(|cap| cap.class).collect();
    expect::equal("CAP_DAC_READ_SEARCH's class", &dac, &vec![Class::Conditional]);
    capdisc(&["apply", "/root/api-recorded.json", "--unit", API, "--allow-widen"])
        .expect_exit(0)
        .expect_says("CAP_DAC_READ_SEARCH left out: it amounts to root for a non-root service");
    serves_after_restart();
    expect_only_bind();
    capdisc(&["lint", API]).expect_exit(0);
}

#[test]
fn s09_minimize_proves_and_installs_the_smallest_set() {
    guest!();
    let (path, minimized) = api_minimized();
    minimized.expect_exit(0);
    let scores: Vec<f64> = minimized
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("exposure (systemd-analyze security, lower is better): "))
        .map(|scores| scores.split(" -> ").filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    expect::that(scores.len() == 2 && scores[1] <= scores[0], "exposure before -> after, no worse", minimized.output());
    serves_after_restart();
    expect_only_bind();
    expect::equal("NoNewPrivileges", unit::property(API, "NoNewPrivileges").as_str(), "yes");
    let runtime: Vec<String> = unit::capdisc_dropins(API).into_iter().filter(|path| path.starts_with("/run/")).collect();
    expect::equal("capdisc's runtime drop-ins left", &runtime, &Vec::new());
    let proof = profile(path);
    let dac = proof.capability("CAP_DAC_READ_SEARCH");
    expect::that(
        dac.is_some_and(|dac| dac.class == Class::Conditional && dac.paths.first().is_some_and(|path| path.starts_with('/'))),
        "CAP_DAC_READ_SEARCH recorded conditional, with a path",
        dac.map(|dac| (dac.class, dac.paths.clone())),
    );
    let verdicts: Vec<Decision> =
        proof.verification.iter().flat_map(|v| &v.capabilities).filter(|v| v.name == "CAP_DAC_READ_SEARCH").map(|v| v.verdict).collect();
    expect::equal("CAP_DAC_READ_SEARCH's verdict", &verdicts, &vec![Decision::Dropped]);
    let (after, handfix) = (unit::exposure(API, false), unit::exposure("/etc/capdisc/api.service", true));
    capdisc_guest_tests::report(&format!("exposure of the python service after minimize {after:?}, of its hand-written fix {handfix:?}"));
    expect::that(matches!((after, handfix), (Some(after), Some(handfix)) if after <= handfix), "after <= hand-written", (after, handfix));
}

/// Whether a check `sleep SECONDS` runs.
fn check_runs(seconds: u32) -> bool {
    sh(&format!("pgrep -f '^sleep {seconds}$'")).code == 0
}

/// A verify trial of the installed proof whose check runs `exec sleep MARK` (after connecting
/// first, `connect`), once its trial drop-in is in place and the check runs.
fn trial_running(mark: u32, connect: bool) -> (Started, String) {
    let (proof, minimized) = api_minimized();
    minimized.expect_exit(0);
    unit::restart_until(API, 60, || unit::answers(API_URL));
    let before = unit::capbnd(API);
    let check = if connect { format!("curl -fsS -o /dev/null {API_URL} && exec sleep {mark}") } else { format!("exec sleep {mark}") };
    let verifier = Started::new("capdisc", &["verify", proof, "--unit", API, "--check", &check, "--timeout", "120"], "verify-killed");
    wait::must(20, "the trial's drop-in in place", || std::path::Path::new(TRIAL).exists(), || verifier.output());
    wait::must(90, "the trial's check running", || check_runs(mark), || verifier.output());
    (verifier, before)
}

/// Waits until the unit is back under its own set (`before`) with no trial drop-in.
fn restored(before: &str) {
    let back = || !std::path::Path::new(TRIAL).exists() && unit::is_active(API) && unit::capbnd(API) == before;
    wait::must(30, "the unit under its own set again, no trial drop-in", back, || {
        format!("{} CapBnd {} (was {before}); drop-ins {:?}", unit::state(API), unit::capbnd(API), unit::capdisc_dropins(API))
    });
}

#[test]
fn s09b_a_trial_killed_is_undone_and_its_check_killed() {
    guest!();
    let (verifier, before) = trial_running(1071, true);
    verifier.signal(libc::SIGKILL);
    let killed = Instant::now();
    restored(&before);
    capdisc_guest_tests::report(&format!("the guardian restored api.service {} s after kill -9 mid-trial", wait::seconds_since(killed)));
    wait::must(30, "the trial's check gone", || !check_runs(1071), || "sleep 1071 still runs".into());
}

#[test]
fn s09c_a_trial_interrupted_proves_nothing_and_is_undone() {
    guest!();
    let (verifier, before) = trial_running(1072, false);
    verifier.signal(libc::SIGINT);
    let interrupted = verifier.wait();
    interrupted.expect_exit(130).expect_says("interrupted (SIGINT) in trial 1 of 1; nothing proven");
    expect::that(!interrupted.says("FAILED"), "no verdict", interrupted.output());
    expect::that(!std::path::Path::new(TRIAL).exists(), "no trial drop-in left", TRIAL);
    restored(&before);
    expect::that(!check_runs(1072), "the check died with capdisc's trial", "sleep 1072 runs");
}
