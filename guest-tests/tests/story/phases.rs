//! A unit's whole life in its proofs: `minimize --grow` from the broken unit's own empty set
//! (never more privilege on the way); a reload that needs CAP_KILL (every phase tried); a rare
//! path driven by `--exercise`; and `watch` reporting the reload a proof left out as a hardening
//! regression.
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use capdisc::profile::{Decision, Phase, Profile};
use capdisc_guest_tests::{
    command::{capdisc, run, Started},
    expect, guest, profile, unit, wait,
};

const GROW: &str = "app-grow.service";
const GROW_URL: &str = "http://127.0.0.1:445/";
const RELOAD: &str = "reload-kill.service";
const RELOAD_URL: &str = "http://127.0.0.1:446/";
const RELOAD_CHECK: &str = "curl -fsS -o /dev/null http://127.0.0.1:446/";
/// capdisc's hardening-regression MESSAGE_ID (README, "capdisc watch").
const REGRESSION_ID: &str = "c3a1d2e4f5b64a7c9d8e0f1a2b3c4d5e";

/// The verdict and evidence of `capability` in a proof.
fn verdict(proof: &Profile, capability: &str) -> Option<(Decision, String)> {
    proof.verification.as_ref()?.capabilities.iter().find(|v| v.name == capability).map(|v| (v.verdict, v.evidence.clone()))
}

fn kept(proof: &Profile) -> Vec<String> {
    let mut kept: Vec<String> = proof.verification.iter().flat_map(|v| v.kept()).map(str::to_owned).collect();
    kept.sort();
    kept
}

fn phases_of(proof: &Profile, capability: &str) -> Vec<Phase> {
    proof.capability(capability).map(|cap| cap.phases.clone()).unwrap_or_default()
}

#[test]
fn s11_grow_from_the_empty_set_never_holds_more() {
    guest!();
    unit::shipped(GROW);
    let permissive = format!("/run/systemd/system/{GROW}.d/zz-capdisc-permissive.conf");
    // A watcher samples the service's sets throughout, and looks for a permissive drop-in.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while !done.load(Ordering::Relaxed) {
                // The service's own process: systemd's child before its exec still has the
                // manager's sets (it applies the unit's while it sets the process up).
                let status = unit::main_status(GROW).filter(|status| status.get("Name").map(String::as_str) == Some("capdisc-demo"));
                for field in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                    if let Some(value) = status.as_ref().and_then(|status| status.get(field)) {
                        seen.insert(value.clone());
                    }
                }
                if std::path::Path::new(&permissive).exists() {
                    seen.insert("permissive drop-in".to_owned());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            seen
        })
    };
    let grown = capdisc(&[
        "minimize",
        "--grow",
        "--unit",
        GROW,
        "--check",
        "curl -fsS -o /dev/null http://127.0.0.1:445/",
        "--timeout",
        "60",
        "--apply",
        "--json",
        "-o",
        "/root/grow.json",
    ]);
    done.store(true, Ordering::Relaxed);
    let seen = watcher.join().expect("the watcher");
    grown.expect_exit(0);
    expect::that(
        !seen.is_empty() && seen.iter().all(|set| set == "0000000000000000" || set == "0000000000000400"),
        "only the empty set and CAP_NET_BIND_SERVICE, no permissive drop-in",
        &seen,
    );
    let trials = profile("/root/grow.json").verification.map(|v| v.trials.len());
    expect::equal("trials (one added step)", &trials, &Some(2));
    unit::restart_until(GROW, 60, || unit::answers(GROW_URL));
    expect::equal("HTTP status", unit::http(GROW_URL).0.as_str(), "200");
    expect::equal("CapabilityBoundingSet", unit::property(GROW, "CapabilityBoundingSet").as_str(), "cap_net_bind_service");
    expect::equal("AmbientCapabilities", unit::property(GROW, "AmbientCapabilities").as_str(), "cap_net_bind_service");
}

#[test]
fn s11b_the_reload_phase_keeps_cap_kill() {
    guest!();
    unit::shipped(RELOAD);
    let path = "/root/reload.json";
    capdisc(&["minimize", "--unit", RELOAD, "--check", RELOAD_CHECK, "--timeout", "90", "--apply", "--json", "-o", path]).expect_exit(0);
    let proof = profile(path);
    expect::equal(
        "the proof's phases",
        &proof.verification.as_ref().map(|v| v.phases.clone()),
        &Some(vec![Phase::Start, Phase::Reload, Phase::Stop, Phase::StartAgain]),
    );
    let kill = verdict(&proof, "CAP_KILL");
    expect::that(
        kill.as_ref().is_some_and(|(decision, evidence)| {
            *decision == Decision::Kept
                && evidence.starts_with("the check failed without it: reload failed")
                && evidence.contains("denied CAP_KILL in kill")
        }),
        "CAP_KILL kept: the reload failed without it, denied CAP_KILL in kill",
        &kill,
    );
    expect::equal("CAP_KILL's phases", &phases_of(&proof, "CAP_KILL"), &vec![Phase::Reload]);
    unit::restart_until(RELOAD, 60, || unit::answers(RELOAD_URL));
    unit::systemctl(&["reload", RELOAD]).expect_exit(0);
    wait::must(60, "it serves after the reload", || unit::answers(RELOAD_URL), || unit::tail(&unit::journal(RELOAD), 12));
    let bounding = unit::property(RELOAD, "CapabilityBoundingSet");
    expect::that(bounding.split_whitespace().any(|cap| cap == "cap_kill"), "cap_kill in the bounding set", &bounding);
}

#[test]
fn s11c_an_exercise_proves_a_rare_path() {
    guest!();
    unit::shipped("rotate.service");
    let path = "/root/rotate.json";
    capdisc(&[
        "minimize",
        "--unit",
        "rotate.service",
        "--check",
        "/usr/local/bin/capdisc-workload connect 447",
        "--exercise",
        "kill -USR1 $MAINPID",
        "--phases",
        "start",
        "--timeout",
        "60",
        "--json",
        "-o",
        path,
    ])
    .expect_exit(0);
    let proof = profile(path);
    expect::equal("kept", &kept(&proof), &vec!["CAP_CHOWN".to_owned(), "CAP_NET_BIND_SERVICE".to_owned()]);
    let chown = verdict(&proof, "CAP_CHOWN");
    expect::that(
        chown.as_ref().is_some_and(|(_, evidence)| evidence.contains("denied CAP_CHOWN in chown /var/log/capdisc-rotate.log")),
        "CAP_CHOWN's evidence: denied CAP_CHOWN in chown /var/log/capdisc-rotate.log",
        &chown,
    );
    expect::equal("CAP_CHOWN's phases", &phases_of(&proof, "CAP_CHOWN"), &vec![Phase::Exercise]);
}

/// Whether the journal has a regression entry for reload-kill.service at priority 3 since `mark`.
fn regression_logged(mark: &str) -> bool {
    let (id, unit) = (format!("MESSAGE_ID={REGRESSION_ID}"), format!("OBJECT_SYSTEMD_UNIT={RELOAD}"));
    unit::journal_export(&[&id, &unit], mark).iter().any(|entry| entry.get("PRIORITY").map(String::as_str) == Some("3"))
}

#[test]
fn s11d_watch_reports_the_reload_a_proof_left_out() {
    guest!();
    unit::shipped(RELOAD);
    let path = "/root/reload-noreload.json";
    capdisc(&[
        "minimize",
        "--unit",
        RELOAD,
        "--check",
        RELOAD_CHECK,
        "--phases",
        "start,stop",
        "--timeout",
        "90",
        "--apply",
        "--json",
        "-o",
        path,
    ])
    .expect_exit(0);
    let proven = kept(&profile(path));
    expect::that(!proven.iter().any(|cap| cap == "CAP_KILL"), "proven without its reload, no CAP_KILL", &proven);
    unit::restart_until(RELOAD, 60, || unit::answers(RELOAD_URL));
    let _ = std::fs::remove_dir_all("/tmp/regression-state");
    let mark = unit::journal_mark();
    let watch = Started::new(
        "capdisc",
        &[
            "watch",
            "--unit",
            RELOAD,
            "--unit",
            "not-yet-installed.service",
            "--baseline",
            path,
            "--state-dir",
            "/tmp/regression-state",
            "--interval",
            "1",
        ],
        "regression",
    );
    wait::must(60, "capdisc: watching", || watch.output().contains("capdisc: watching"), || watch.output());
    let reloaded = std::time::Instant::now();
    let reload = unit::systemctl(&["reload", RELOAD]);
    expect::that(reload.code != 0, "the reload fails under the proof without it", reload.output());
    wait::must(
        60,
        "a regression entry at priority 3",
        || regression_logged(&mark),
        || {
            let entries = run("journalctl", &["-o", "export", &format!("MESSAGE_ID={REGRESSION_ID}"), "--no-pager"]).stdout;
            format!("the journal's entries with capdisc's MESSAGE_ID (since {mark}):\n{entries}\nwatch said:\n{}", watch.output())
        },
    );
    capdisc_guest_tests::report(&format!("the regression was logged within {} s of the reload", wait::seconds_since(reloaded)));
    let message: Vec<String> = unit::journal_export(&[&format!("MESSAGE_ID={REGRESSION_ID}")], &mark)
        .into_iter()
        .filter_map(|mut entry| entry.remove("MESSAGE"))
        .collect();
    expect::that(
        message.first().is_some_and(|line| line.starts_with("hardening regression: reload-kill.service was denied CAP_KILL")),
        "the entry: hardening regression: reload-kill.service was denied CAP_KILL",
        &message,
    );
    let said = watch.output();
    expect::equal(
        "stderr lines naming the regression",
        &said.matches("hardening regression: reload-kill.service was denied CAP_KILL").count(),
        &1,
    );
    expect::that(said.contains("unit not-yet-installed.service is not there yet: waiting for it"), "the missing unit waited for", &said);
    watch.signal(libc::SIGTERM);
    watch.wait();
}
