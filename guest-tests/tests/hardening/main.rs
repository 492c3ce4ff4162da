//! The whole hardening, proven, on real Debian daemons with their shipped units (and the story's
//! service): `minimize --sandbox --apply` proves the capability set and the sandboxing settings
//! the recording allows together through each unit's life, installs them in one drop-in and
//! has systemd read it back. Then the daemon must work through start, reload, stop and start
//! with its exercise, and systemd must score it under 5.0 ("OK"). Each test reports the exposure
//! before, with the capabilities alone and with the sandboxing, the trials and the time, and
//! what was left out with its evidence (docs/hardening.md's table). Its own guest boot, beside
//! the story's.
use std::time::Instant;

use capdisc::profile::{Decision, Profile};
use capdisc_guest_tests::{
    command::{capdisc, run, sh},
    expect, guest, profile, report,
    unit::{self, Installed},
};

/// systemd's "OK": what every daemon's sandboxing must score under.
const GOAL: f64 = 5.0;

/// One daemon: its unit, the check that fails when it is broken, and its exercise.
struct Daemon<'a> {
    unit: &'a str,
    check: &'a str,
    exercise: Option<&'a str>,
}

/// `minimize --sandbox --apply` of the daemon, the report line, then its life under what was
/// installed; the unit is put back as shipped afterwards. Returns the proof.
fn harden(daemon: &Daemon<'_>) -> Profile {
    let Daemon { unit: unit_name, check, exercise } = *daemon;
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
    let lines = |verdict: Decision| -> Vec<String> {
        verification
            .sandbox
            .iter()
            .filter(|setting| setting.verdict == verdict)
            .map(|setting| {
                if verdict == Decision::Kept {
                    setting.lines().join(" ")
                } else {
                    format!("{} ({})", setting.lines().join(" "), setting.why)
                }
            })
            .collect()
    };
    let sandbox_trials = verification.sandbox_trials.len();
    report(&format!(
        "hardening {unit_name}: exposure {:.1} before, {:.1} capabilities, {:.1} sandboxing; set [{}]; {} trial(s) ({sandbox_trials} for the sandboxing) in {seconds} s",
        exposure.before,
        exposure.capabilities,
        exposure.sandboxing,
        proof.granted_names().join(" "),
        verification.trials.len() + sandbox_trials,
    ));
    report(&format!("hardening {unit_name}: kept: {}", lines(Decision::Kept).join("; ")));
    report(&format!("hardening {unit_name}: left out: {}", lines(Decision::Dropped).join("; ")));
    expect::that(exposure.sandboxing < GOAL, &format!("{unit_name} scored under {GOAL} with the proven sandboxing"), &exposure);
    expect::that(exposure.sandboxing < exposure.capabilities, "the sandboxing lowered the exposure", &exposure);
    // systemd reads the installed drop-in back: the settings it shows are the kept ones.
    for setting in verification.sandbox.iter().filter(|setting| setting.verdict == Decision::Kept) {
        if ["ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictRealtime", "LockPersonality", "ProtectProc"]
            .contains(&setting.setting.as_str())
        {
            let value = setting.values.last().cloned().unwrap_or_default();
            expect::equal(
                &format!("systemctl show -p {}", setting.setting),
                unit::property(unit_name, &setting.setting).as_str(),
                value.as_str(),
            );
        }
    }
    let live = unit::exposure(unit_name, false);
    expect::that(live.is_some_and(|score| score < GOAL), &format!("the live {unit_name} scores under {GOAL}"), live);
    // Its life under what was installed: start, reload, stop and start, the check each time.
    let works = || sh(check).code == 0;
    unit::restart_until(unit_name, 60, works);
    if !unit::property(unit_name, "ExecReload").is_empty() {
        unit::systemctl(&["reload", unit_name]).expect_exit(0);
        capdisc_guest_tests::wait::must(60, &format!("{unit_name} works after its reload"), works, || unit::state(unit_name));
    }
    unit::systemctl(&["stop", unit_name]).expect_exit(0);
    unit::restart_until(unit_name, 60, works);
    if let Some(exercise) = exercise {
        expect::equal(&format!("`{exercise}` under the installed drop-in"), &sh(exercise).code, &0);
        expect::that(works(), "the check passes after the exercise", unit::state(unit_name));
    }
    // lint reads the installed drop-in back as what the proof covered: no line beyond it.
    let linted = capdisc(&["lint", unit_name, "--profile", &path]);
    expect::that(
        !linted.says("is not what the profile's proof covered"),
        "lint finds every sandboxing line covered by the proof",
        linted.output(),
    );
    unit::shipped(unit_name);
    proof
}

#[test]
fn h01_nginx_with_a_log_rotation() {
    guest!();
    unit::shipped("nginx.service");
    unit::restart_until("nginx.service", 30, || unit::answers("http://127.0.0.1:80/"));
    let proof = harden(&Daemon {
        unit: "nginx.service",
        check: "curl -fsS -o /dev/null http://127.0.0.1:80/",
        exercise: Some("mv -f /var/log/nginx/access.log /var/log/nginx/access.log.1 && kill -USR1 $(cat /run/nginx.pid)"),
    });
    let written: Vec<String> = proof.activity.iter().flat_map(|activity| activity.written()).map(|used| used.path.clone()).collect();
    expect::that(written.iter().any(|path| path == "/run/nginx.pid"), "the recording saw nginx write its pid file", &written);
    unit::restart_until("nginx.service", 30, || unit::answers("http://127.0.0.1:80/"));
}

#[test]
fn h02_the_storys_service() {
    guest!();
    let unit_name = "app-hardened.service";
    let _unit = Installed::new(&[(
        "/etc/systemd/system/app-hardened.service",
        "[Unit]\nDescription=the story's service, hardened whole\n\n[Service]\nExecStart=/usr/local/bin/capdisc-demo --port 449\nExecReload=/bin/kill -HUP $MAINPID\nUser=app\nGroup=app\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
    )]);
    let _dropin = Installed::later(&format!("/etc/systemd/system/{unit_name}.d/60-capdisc.conf"));
    unit::systemctl(&["daemon-reload"]);
    unit::restart_until(unit_name, 30, || unit::answers("http://127.0.0.1:449/"));
    let proof = harden(&Daemon { unit: unit_name, check: "curl -fsS -o /dev/null http://127.0.0.1:449/", exercise: None });
    expect::equal("the proven set", &proof.granted_names(), &vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    // A colleague's line after the proof: lint names it as beyond what the trials ran.
    let path = format!("/root/{unit_name}-hardened.json");
    capdisc(&["apply", &path, "--unit", unit_name]).expect_exit(0);
    let _colleague =
        Installed::new(&[(&format!("/etc/systemd/system/{unit_name}.d/70-colleague.conf"), "[Service]\nProtectHome=read-only\n")]);
    unit::systemctl(&["daemon-reload"]);
    capdisc(&["lint", unit_name, "--profile", &path])
        .expect_says("ProtectHome=read-only is not what the profile's proof covered: its trials ran the unit with ProtectHome=yes");
    unit::shipped(unit_name);
    unit::systemctl(&["stop", unit_name]);
}

#[test]
fn h03_chrony() {
    guest!();
    unit::shipped("chrony.service");
    unit::restart_until("chrony.service", 60, || sh("chronyc -n tracking").code == 0);
    harden(&Daemon { unit: "chrony.service", check: "chronyc -n tracking", exercise: None });
    unit::restart_until("chrony.service", 60, || sh("chronyc -n tracking").code == 0);
}

#[test]
fn h04_sshd_with_a_pty_login() {
    guest!();
    let key = "/root/.ssh/capdisc_login";
    std::fs::create_dir_all("/root/.ssh").expect("/root/.ssh");
    if !std::path::Path::new(key).exists() {
        run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", key]).expect_exit(0);
    }
    let public = std::fs::read_to_string(format!("{key}.pub")).expect("the public key");
    let _keys = Installed::new(&[("/root/.ssh/authorized_keys", public.as_str())]);
    let check = "ssh-keyscan -T 10 127.0.0.1 2>/dev/null | grep -q ssh-";
    unit::shipped("ssh.service");
    unit::restart_until("ssh.service", 60, || sh(check).code == 0);
    let login = format!(
        "ssh -tt -i {key} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 'tty | grep -q /dev/pts/ && echo logged-in > /root/.capdisc-login && rm /root/.capdisc-login' </dev/null"
    );
    harden(&Daemon { unit: "ssh.service", check, exercise: Some(&login) });
    unit::restart_until("ssh.service", 60, || sh(check).code == 0);
}

#[test]
fn h05_dnsmasq_with_its_reload() {
    guest!();
    // A DNS query for localhost over UDP, answered with at least one record.
    let _check = Installed::new(&[(
        "/usr/local/bin/dns-answers",
        "#!/usr/bin/python3\nimport socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(3)\ns.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x09localhost\\x00\\x00\\x01\\x00\\x01', ('127.0.0.1', 53))\nreply = s.recv(512)\nsys.exit(0 if reply[:2] == b'\\x12\\x34' and reply[3] & 15 == 0 and reply[7] > 0 else 1)\n",
    )]);
    run("chmod", &["755", "/usr/local/bin/dns-answers"]).expect_exit(0);
    unit::shipped("dnsmasq.service");
    unit::restart_until("dnsmasq.service", 60, || sh("/usr/local/bin/dns-answers").code == 0);
    harden(&Daemon { unit: "dnsmasq.service", check: "/usr/local/bin/dns-answers", exercise: None });
    unit::restart_until("dnsmasq.service", 60, || sh("/usr/local/bin/dns-answers").code == 0);
}

#[test]
fn h06_cron() {
    guest!();
    unit::shipped("cron.service");
    unit::restart_until("cron.service", 60, || sh("pidof cron").code == 0);
    harden(&Daemon { unit: "cron.service", check: "pidof cron", exercise: None });
    unit::restart_until("cron.service", 60, || sh("pidof cron").code == 0);
}

#[test]
fn h07_rsyslog_logging_a_line_and_the_kernels() {
    guest!();
    // A line logged through /dev/log and one the kernel logs (`drop_caches` names the writer's
    // pid: rsyslog's imklog reads it from /proc/kmsg, which needs CAP_SYSLOG), both found in
    // /var/log/syslog within 30 s.
    let _check = Installed::new(&[(
        "/usr/local/bin/syslog-logs",
        "#!/bin/sh\ntoken=capdisc-$(date +%s%N)\nlogger -t capdisc-check \"$token\" || exit 1\npid=$(sh -c 'echo $$; echo 1 > /proc/sys/vm/drop_caches') || exit 1\nfor i in $(seq 60); do grep -q \"$token\" /var/log/syslog 2>/dev/null && grep -q \"($pid): drop_caches\" /var/log/syslog && exit 0; sleep 0.5; done\nexit 1\n",
    )]);
    run("chmod", &["755", "/usr/local/bin/syslog-logs"]).expect_exit(0);
    unit::shipped("rsyslog.service");
    unit::restart_until("rsyslog.service", 60, || sh("/usr/local/bin/syslog-logs").code == 0);
    let proof = harden(&Daemon { unit: "rsyslog.service", check: "/usr/local/bin/syslog-logs", exercise: None });
    expect::equal("the proven set", &proof.granted_names(), &vec!["CAP_SYSLOG".to_owned()]);
    unit::restart_until("rsyslog.service", 60, || sh("/usr/local/bin/syslog-logs").code == 0);
}

#[test]
fn h08_a_python_web_service() {
    guest!();
    let unit_name = "api-hardened.service";
    let _unit = Installed::new(&[(
        "/etc/systemd/system/api-hardened.service",
        "[Unit]\nDescription=a python web service, hardened whole\n\n[Service]\nExecStart=/usr/bin/python3 -m http.server 450 --bind 127.0.0.1 --directory /etc/capdisc\nUser=app\nGroup=app\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
    )]);
    let _dropin = Installed::later(&format!("/etc/systemd/system/{unit_name}.d/60-capdisc.conf"));
    unit::systemctl(&["daemon-reload"]);
    unit::restart_until(unit_name, 60, || unit::answers("http://127.0.0.1:450/"));
    let proof = harden(&Daemon { unit: unit_name, check: "curl -fsS -o /dev/null http://127.0.0.1:450/", exercise: None });
    expect::equal("the proven set", &proof.granted_names(), &vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    unit::systemctl(&["stop", unit_name]);
}

/// A service that counts its requests in a file it names relative to the directory it changed
/// to (as many daemons do): the recording cannot place what it wrote.
const TALLY: &str = r#"import http.server, os

os.chdir("/var/lib/tally")


class Tally(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        count = int(open("count").read()) + 1 if os.path.exists("count") else 1
        with open("count.tmp", "w") as new:
            new.write(str(count))
        os.replace("count.tmp", "count")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"%d\n" % count)


http.server.HTTPServer(("127.0.0.1", 451), Tally).serve_forever()
"#;

#[test]
fn h09_a_write_relative_to_its_working_directory_fails_a_trial_that_loosens_protect_system() {
    guest!();
    let unit_name = "tally.service";
    let _unit = Installed::new(&[
        ("/usr/local/lib/tally.py", TALLY),
        (
            "/etc/systemd/system/tally.service",
            "[Unit]\nDescription=counts its requests in a file relative to its working directory\n\n[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/tally.py\nUser=app\nGroup=app\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        ),
    ]);
    let _dropin = Installed::later(&format!("/etc/systemd/system/{unit_name}.d/60-capdisc.conf"));
    std::fs::create_dir_all("/var/lib/tally").expect("/var/lib/tally");
    run("chown", &["app:app", "/var/lib/tally"]).expect_exit(0);
    unit::restart_until(unit_name, 60, || unit::answers("http://127.0.0.1:451/"));
    let proof = harden(&Daemon { unit: unit_name, check: "curl -fsS -o /dev/null http://127.0.0.1:451/", exercise: None });
    let verification = proof.verification.clone().expect("a proof");
    let protect = verification.sandbox.iter().find(|setting| setting.setting == "ProtectSystem").cloned();
    report(&format!("hardening {unit_name}: ProtectSystem: {protect:?}"));
    let protect = protect.expect("ProtectSystem tried");
    // The first trial (strict) failed on the relative write; the evidence loosened it to full.
    expect::equal("ProtectSystem kept as", &(protect.verdict, protect.values.clone()), &(Decision::Kept, vec!["full".to_owned()]));
    expect::that(
        protect.why.starts_with("loosened from strict after trial 1 failed with it: openat count.tmp failed (EROFS"),
        "why names the trial, the relative path and EROFS",
        &protect.why,
    );
    expect::that(
        verification.sandbox_trials.first().is_some_and(|trial| !trial.passed)
            && verification.sandbox_trials.last().is_some_and(|trial| trial.passed),
        "a failing sandboxing trial, then a passing one",
        &verification.sandbox_trials,
    );
    let count: u64 = std::fs::read_to_string("/var/lib/tally/count").ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0);
    expect::that(count > 1, "the service kept counting under the installed drop-in", count);
    unit::systemctl(&["stop", unit_name]);
    let _ = std::fs::remove_dir_all("/var/lib/tally");
}
