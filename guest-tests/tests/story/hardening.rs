//! The whole hardening, proven (`minimize --sandbox --apply`): the capability set and the
//! sandboxing settings the recording allows, tried together through each unit's life, installed
//! in one drop-in and read back; the unit then works through start, reload, stop and start, and
//! systemd scores it under 5.0 ("OK"). Each test reports the exposure before, with the
//! capabilities alone and with the sandboxing, the trials and the time (docs/hardening.md's
//! table).
use std::time::Instant;

use capdisc_guest_tests::{
    command::{capdisc, sh},
    expect, guest, profile, report,
    unit::{self, Installed},
};

/// The story's service as it worked before the colleague's change, on :449 (the story's own
/// units hold 443 to 448).
const STORY_UNIT: &str = "app-hardened.service";

/// `minimize --sandbox --apply` of `unit` with `check` (and `exercise`), then the unit's life
/// under what was installed: the proof's path.
fn harden(unit_name: &str, check: &str, exercise: Option<&str>, goal: f64) -> capdisc::profile::Profile {
    let path = format!("/root/{unit_name}-hardened.json");
    let mut args =
        vec!["minimize", "--unit", unit_name, "--sandbox", "--check", check, "--timeout", "90", "--apply", "--json", "-o", &path];
    if let Some(exercise) = exercise {
        args.extend(["--exercise", exercise]);
    }
    let started = Instant::now();
    let minimized = capdisc(&args);
    let seconds = started.elapsed().as_secs();
    minimized.expect_exit(0);
    let proof = profile(&path);
    let verification = proof.verification.clone().expect("a proof");
    let exposure = verification.exposure.clone().expect("the exposure scores");
    let kept: Vec<String> = verification
        .sandbox
        .iter()
        .filter(|setting| setting.verdict == capdisc::profile::Decision::Kept)
        .flat_map(|setting| setting.lines())
        .collect();
    let dropped: Vec<String> = verification
        .sandbox
        .iter()
        .filter(|setting| setting.verdict == capdisc::profile::Decision::Dropped)
        .map(|setting| format!("{} ({})", setting.lines().join(" "), setting.why))
        .collect();
    report(&format!(
        "hardening {unit_name}: exposure {:.1} before, {:.1} capabilities, {:.1} sandboxing; {} trial(s) in {seconds} s; kept [{}]; dropped [{}]",
        exposure.before,
        exposure.capabilities,
        exposure.sandboxing,
        verification.trials.len(),
        kept.join("; "),
        dropped.join("; ")
    ));
    expect::that(exposure.sandboxing < goal, &format!("{unit_name} scored under {goal} with the proven sandboxing"), &exposure);
    expect::that(exposure.sandboxing < exposure.capabilities, "the sandboxing lowered the exposure", &exposure);
    // systemd reads the installed drop-in back: every kept setting is what it shows.
    for setting in verification.sandbox.iter().filter(|setting| setting.verdict == capdisc::profile::Decision::Kept) {
        if ["ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictRealtime", "LockPersonality"]
            .contains(&setting.setting.as_str())
        {
            let shown = unit::property(unit_name, &setting.setting);
            let value = setting.values.last().cloned().unwrap_or_default();
            expect::equal(&format!("systemctl show -p {}", setting.setting), shown.as_str(), value.as_str());
        }
    }
    // Its life under what was installed: start, reload, stop, start, the check each time.
    let works = || sh(check).code == 0;
    unit::restart_until(unit_name, 60, works);
    unit::systemctl(&["reload", unit_name]);
    unit::restart_until(unit_name, 60, works);
    unit::systemctl(&["stop", unit_name]);
    unit::restart_until(unit_name, 60, works);
    if let Some(exercise) = exercise {
        expect::equal(&format!("`{exercise}` under the installed drop-in"), &sh(exercise).code, &0);
        expect::that(works(), "the check passes after the exercise", unit::state(unit_name));
    }
    proof
}

#[test]
fn s22_nginx_whole_hardening_is_proven_installed_and_serves() {
    guest!();
    unit::shipped("nginx.service");
    unit::restart_until("nginx.service", 30, || unit::answers("http://127.0.0.1:80/"));
    let proof = harden("nginx.service", "curl -fsS -o /dev/null http://127.0.0.1:80/", Some("kill -USR1 $(cat /run/nginx.pid)"), 5.0);
    let written: Vec<String> = proof.activity.iter().flat_map(|activity| activity.written()).map(|used| used.path.clone()).collect();
    expect::that(written.iter().any(|path| path == "/run/nginx.pid"), "the recording saw nginx write its pid file", &written);
    unit::shipped("nginx.service");
    unit::restart_until("nginx.service", 30, || unit::answers("http://127.0.0.1:80/"));
}

#[test]
fn s23_the_storys_service_whole_hardening_is_proven_installed_and_serves() {
    guest!();
    let _unit = Installed::new(&[(
        "/etc/systemd/system/app-hardened.service",
        "[Unit]\nDescription=the story's service, hardened whole\n\n[Service]\nExecStart=/usr/local/bin/capdisc-demo --port 449\nExecReload=/bin/kill -HUP $MAINPID\nUser=app\nGroup=app\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
    )]);
    let _dropin = Installed::later(&format!("/etc/systemd/system/{STORY_UNIT}.d/60-capdisc.conf"));
    unit::systemctl(&["daemon-reload"]);
    unit::restart_until(STORY_UNIT, 30, || unit::answers("http://127.0.0.1:449/"));
    let proof = harden(STORY_UNIT, "curl -fsS -o /dev/null http://127.0.0.1:449/", None, 5.0);
    expect::equal("the proven set", &proof.granted_names(), &vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    unit::shipped(STORY_UNIT);
}
