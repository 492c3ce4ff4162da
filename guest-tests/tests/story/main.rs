//! The story end to end in the systemd guest (Debian bookworm, systemd as PID 1, real daemons):
//! the broken unit of `STORY.txt`, what capdisc says about it and how it fixes it (`app`), the
//! python service's proof (`api`), real Debian daemons (`daemons`), a unit's whole life in its
//! proofs (`phases`), the shipped watch service (`watch`) and every unit from boot
//! (`every_unit`). Each test starts from the units as shipped (`unit::shipped`) plus the
//! fixtures below; a fixture that costs a recording or a proof is made once per run and shared.
mod api;
mod app;
mod daemons;
mod every_unit;
mod phases;
mod sandbox;
mod trying;
mod watch;

use std::sync::OnceLock;

use capdisc_guest_tests::{
    command::{capdisc, Run},
    unit, wait,
};

/// The story's unit, its fix as the story's colleague wrote it, and its URL.
const APP: &str = "app.service";
const APP_URL: &str = "http://127.0.0.1:443/";
/// The python service of the measurement, and its URL.
const API: &str = "api.service";
const API_URL: &str = "http://127.0.0.1:444/";

/// The names of the capabilities a profile classes `required`.
fn required(path: &str) -> Vec<String> {
    capdisc_guest_tests::profile(path)
        .capabilities
        .iter()
        .filter(|cap| cap.class == capdisc::classify::Class::Required)
        .map(|cap| cap.name.clone())
        .collect()
}

/// Starts a thread that requests `url` once it answers (within `seconds`), as a client would
/// while capdisc records.
fn request_when_up(url: &'static str, seconds: u64) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || wait::until(seconds, || unit::answers(url)))
}

/// The story's unit recorded with its restrictions lifted, from its own restart, while a client
/// asks it once (`record --restart --permissive`): the recording and what the command said.
fn app_recording() -> &'static (String, Run) {
    static RECORDING: OnceLock<(String, Run)> = OnceLock::new();
    RECORDING.get_or_init(|| {
        unit::shipped(APP);
        let path = "/root/app.yaml".to_owned();
        let client = request_when_up(APP_URL, 8);
        let run = capdisc(&["record", "--unit", APP, "--restart", "--permissive", "--duration", "8", "-o", &path]);
        let _ = client.join();
        (path, run)
    })
}

/// The story's unit fixed by `apply` from its recording (consent given), running and answering.
fn app_fixed() {
    let (profile, recorded) = app_recording();
    recorded.expect_exit(0);
    unit::shipped(APP);
    capdisc(&["apply", profile, "--unit", APP, "--allow-widen"]).expect_exit(0);
    unit::restart_until(APP, 20, || unit::answers(APP_URL));
}

/// The python service's proof, installed (`minimize --apply`): the proof and what minimize said.
fn api_minimized() -> &'static (String, Run) {
    static PROOF: OnceLock<(String, Run)> = OnceLock::new();
    PROOF.get_or_init(|| {
        unit::shipped(API);
        let path = "/root/api.json".to_owned();
        let run = capdisc(&[
            "minimize",
            "--unit",
            API,
            "--check",
            "curl -fsS -o /dev/null http://127.0.0.1:444/",
            "--timeout",
            "90",
            "--apply",
            "--json",
            "-o",
            &path,
        ]);
        (path, run)
    })
}

/// nginx's proof with an HTTP check (not applied): the proof and what minimize said.
fn nginx_proof() -> &'static (String, Run) {
    static PROOF: OnceLock<(String, Run)> = OnceLock::new();
    PROOF.get_or_init(|| {
        unit::shipped("nginx.service");
        unit::restart_until("nginx.service", 30, || unit::answers("http://127.0.0.1:80/"));
        let path = "/root/nginx.json".to_owned();
        let run = capdisc(&[
            "minimize",
            "--unit",
            "nginx.service",
            "--check",
            "curl -fsS -o /dev/null http://127.0.0.1:80/",
            "--timeout",
            "60",
            "--json",
            "-o",
            &path,
        ]);
        (path, run)
    })
}
