//! A proof means what it says: an interrupt ends it with nothing proven, a trial owns what it
//! starts (the workload and the check die with it, and with capdisc, SIGKILL included), the
//! timeout bounds the check, evidence is a difference, and `--user` shrinks. The workload is a
//! real service on a real port (`workload serve`: it retries a refused bind, as a supervised
//! daemon would) and the check a real connection to it (`workload connect`).
use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use crate::common::*;

/// Polls `done` every 50 ms until it holds or `secs` pass; whether it held.
fn wait_until(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// Pids whose command line has `word` as one of its arguments.
fn processes_with(word: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            cmdline.split(|byte| *byte == 0).any(|arg| arg == word.as_bytes()).then_some(pid)
        })
        .collect()
}

fn answers(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// capdisc with `args`, its output collected by two readers; returns once a stderr line
/// contains `marker`.
struct Running {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_done: mpsc::Receiver<()>,
}

fn start_until(args: &[&str], marker: &str) -> Running {
    let mut child = capdisc().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("capdisc");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (seen, wait) = mpsc::channel();
    let (done, stderr_done) = mpsc::channel();
    let (collected, wanted) = (stderr.clone(), marker.to_owned());
    let pipe = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let found = line.contains(&wanted);
            collected.lock().expect("lock").push_str(&(line + "\n"));
            if found {
                let _ = seen.send(());
            }
        }
        let _ = done.send(());
    });
    let (out, stdout) = mpsc::channel();
    let pipe = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(pipe), &mut text);
        let _ = out.send(text);
    });
    let arrived = wait.recv_timeout(Duration::from_secs(120)).is_ok();
    let text = stderr.lock().expect("lock").clone();
    assert!(arrived, "`{marker}` never appeared: {text}");
    Running { child, stdout, stderr, stderr_done }
}

impl Running {
    fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// (exit code, stdout, stderr) once it ends. A pipe still open after 10 s is held by a
    /// process capdisc left behind: what was read by then is returned (the caller's checks for
    /// leftovers then fail), never a hang.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().expect("wait");
        let stdout = self.stdout.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| "(stdout still held open by a leftover)".into());
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(10));
        let stderr = self.stderr.lock().expect("lock").clone();
        (status.code(), stdout, stderr)
    }
}

/// A recording of `true` (it needs nothing), written to DIR/true.yaml: its set is the empty set.
fn profile_of_true(dir: &Path) -> (capdisc::profile::Profile, PathBuf) {
    let nothing = record(&[], &["--", "true"]);
    let path = dir.join("true.yaml");
    std::fs::write(&path, serde_yaml::to_string(&nothing.profile).expect("yaml")).expect("write");
    (nothing.profile, path)
}

fn workload_path() -> String {
    workload().display().to_string()
}

fn check_of(port: u16) -> String {
    format!("{} connect {port}", workload_path())
}

#[test]
fn an_interrupt_in_a_shrink_trial_proves_nothing_and_writes_nothing() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("proven.yaml");
    let (workload, check) = (workload_path(), check_of(446));
    let args = ["minimize", "-o", out.to_str().expect("utf-8"), "--check", &check, "--", &workload, "serve", "446"];
    // Trial 2 runs without CAP_NET_BIND_SERVICE: the service retries its bind until --timeout.
    let running = start_until(&args, "trial 2 of 2: without CAP_NET_BIND_SERVICE");
    let pid = running.child.id();
    running.signal(libc::SIGINT);
    let (code, stdout, stderr) = running.finish();
    assert_eq!(code, Some(130), "128 + SIGINT: {stdout}{stderr}");
    assert!(stderr.contains("interrupted (SIGINT) in trial 2 of 2; nothing proven"), "{stderr}");
    assert!(!stdout.contains("proven set") && !stdout.contains("kept"), "no verdict: {stdout}");
    assert!(!out.exists(), "no profile written");
    assert!(capdisc_cgroups_of(pid).is_empty(), "{:?}", capdisc_cgroups_of(pid));
    assert!(!answers(446), "the workload died with its trial");
}

#[test]
fn an_interrupt_stops_grow_and_verify_without_a_verdict() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("grown.yaml");
    let (workload, check) = (workload_path(), check_of(447));
    let grow = ["minimize", "--grow", "-o", out.to_str().expect("utf-8"), "--check", &check, "--", &workload, "serve", "447"];
    let running = start_until(&grow, "trial 1 (at most 16)");
    running.signal(libc::SIGINT);
    let (code, stdout, stderr) = running.finish();
    assert_eq!(code, Some(130), "{stdout}{stderr}");
    assert!(stderr.contains("interrupted (SIGINT) in trial 1 (at most 16); nothing proven"), "{stderr}");
    assert!(!stderr.contains("adding"), "nothing added after the interrupt: {stderr}");
    assert!(!out.exists());

    // verify under the empty set of a recording of `true`: SIGTERM in its trial is no FAILED.
    let (_, empty) = profile_of_true(dir.path());
    let verify = ["verify", empty.to_str().expect("utf-8"), "--check", &check, "--", &workload, "serve", "447"];
    let running = start_until(&verify, "verifying");
    let pid = running.child.id();
    assert!(wait_until(60, || !capdisc_cgroups_of(pid).is_empty()), "the trial started");
    running.signal(libc::SIGTERM);
    let (code, stdout, stderr) = running.finish();
    assert_eq!(code, Some(143), "128 + SIGTERM: {stdout}{stderr}");
    assert!(!stdout.contains("FAILED") && !stdout.contains("passed"), "{stdout}");
    assert!(stderr.contains("interrupted (SIGTERM) in trial 1 of 1; nothing proven"), "{stderr}");
    assert!(capdisc_cgroups_of(pid).is_empty());
}

#[test]
fn sigkill_of_capdisc_kills_the_trials_workload_and_check() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("proven.yaml");
    let workload = workload_path();
    // The check connects, then hangs: both the service and the check are alive at the kill.
    let check = format!("{} && exec sleep 1071", check_of(448));
    let args = ["minimize", "-o", out.to_str().expect("utf-8"), "--check", &check, "--", &workload, "serve", "448"];
    let running = start_until(&args, "first");
    let pid = running.child.id();
    assert!(wait_until(60, || !processes_with("1071").is_empty() && answers(448)), "the check hangs while the service answers");
    running.signal(libc::SIGKILL);
    let (code, _, _) = running.finish();
    assert_eq!(code, None, "killed");
    assert!(wait_until(30, || processes_with("1071").is_empty()), "the check outlived capdisc: {:?}", processes_with("1071"));
    assert!(wait_until(30, || !answers(448)), "the workload outlived capdisc");
    assert!(wait_until(30, || capdisc_cgroups_of(pid).is_empty()), "{:?}", capdisc_cgroups_of(pid));
}

#[test]
fn the_timeout_bounds_the_check_which_dies_with_its_trial() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, empty) = profile_of_true(dir.path());
    let output = capdisc()
        .args(["verify", "-q"])
        .arg(&empty)
        .args(["--check", "sleep 1072", "--timeout", "2", "--", "sleep", "1073"])
        .output()
        .expect("verify");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("verify: FAILED: the check `sleep 1072` was still running at the --timeout of 2 s (killed)"), "{stdout}");
    assert!(processes_with("1072").is_empty() && processes_with("1073").is_empty(), "nothing of the trial is left");
}

#[test]
fn kept_evidence_is_a_denial_the_passing_trial_did_not_have() {
    if skip_without_root() {
        return;
    }
    // The demo service probes CAP_SETPCAP in capset (denied) in every trial, the passing one too.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo.yaml");
    let demo = env!("CARGO_BIN_EXE_capdisc-demo");
    let output = capdisc()
        .args(["minimize", "-q", "-o"])
        .arg(&out)
        .args(["--", demo, "--user", "nobody", "--keep", "CAP_NET_BIND_SERVICE", "--port", "449", "--requests", "1", "--self-client"])
        .output()
        .expect("minimize");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let profile = capdisc::profile::read(&out).expect("profile");
    let proof = profile.verification.as_ref().expect("proof");
    let passing: Vec<&String> = proof.trials.iter().filter(|trial| trial.passed).flat_map(|trial| &trial.denials).collect();
    assert!(passing.iter().any(|denial| denial.starts_with("CAP_SETPCAP in capset")), "the probe is denied when it works too: {passing:?}");
    // What the call returned is seen at its exit: the probe's capset succeeded (it was reported
    // as EPERM, the table's answer for a refused capset).
    assert!(
        passing.iter().any(|denial| denial.starts_with("CAP_SETPCAP in capset (capset succeeded anyway;")),
        "the refusal failed nothing: {passing:?}"
    );
    let bind = proof.capabilities.iter().find(|verdict| verdict.name == "CAP_NET_BIND_SERVICE").expect("verdict");
    assert_eq!(bind.verdict, capdisc::profile::Decision::Kept);
    assert!(!bind.evidence.contains("CAP_SETPCAP"), "a denial the passing trial shows explains nothing: {}", bind.evidence);
    assert!(bind.evidence.contains("no denial explains the failure"), "{}", bind.evidence);
    let setuid = proof.capabilities.iter().find(|verdict| verdict.name == "CAP_SETUID").expect("verdict");
    assert!(setuid.evidence.contains("denied CAP_SETUID in setuid"), "its own, new denial: {}", setuid.evidence);
}

/// The workload where a non-root user may run it (the checkout may be under /root).
fn workload_for_anyone(dir: &Path) -> PathBuf {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let copy = dir.join("workload");
    std::fs::copy(workload(), &copy).expect("copy workload");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    copy
}

#[test]
fn minimize_as_a_user_records_with_every_capability_then_shrinks() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let workload = workload_for_anyone(dir.path()).display().to_string();
    let out = dir.path().join("user.yaml");
    let check = format!("{workload} connect 450");
    let output = capdisc()
        .args(["minimize", "-q", "--user", "nobody", "--check", &check, "-o"])
        .arg(&out)
        .args(["--", &workload, "serve", "450"])
        .output()
        .expect("minimize");
    assert_eq!(output.status.code(), Some(0), "the recording runs with every capability as ambient: {}", stderr(&output));
    let profile = capdisc::profile::read(&out).expect("profile");
    assert_eq!(profile.granted_names(), vec!["CAP_NET_BIND_SERVICE"]);
    let uids: Vec<u32> = profile.capabilities.iter().flat_map(|cap| cap.uids.clone()).collect();
    assert!(uids.iter().all(|uid| *uid == 65534), "it ran as nobody: {uids:?}");
    let dropin = String::from_utf8_lossy(&capdisc().arg("generate").arg(&out).output().expect("generate").stdout).into_owned();
    assert!(dropin.contains("\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"), "{dropin}");
}

#[test]
fn verify_and_minimize_exit_2_on_an_operational_error() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (nothing, empty) = profile_of_true(dir.path());
    let missing = capdisc().args(["verify", "-q"]).arg(&empty).args(["--", "/nonexistent/cmd"]).output().expect("verify");
    assert_eq!(missing.status.code(), Some(2), "a missing command is an error, not a failed set: {}", stderr(&missing));
    assert!(stderr(&missing).contains("cannot run `/nonexistent/cmd`"), "{}", stderr(&missing));
    let minimize = capdisc()
        .args(["minimize", "-q", "-o"])
        .arg(dir.path().join("x.yaml"))
        .args(["--", "/nonexistent/cmd"])
        .output()
        .expect("minimize");
    assert_eq!(minimize.status.code(), Some(2), "{}", stderr(&minimize));

    let mut lossy = nothing.clone();
    lossy.losses.checks_map_full = 3;
    let lossy_path = dir.path().join("lossy.yaml");
    std::fs::write(&lossy_path, serde_yaml::to_string(&lossy).expect("yaml")).expect("write");
    let refused = capdisc().args(["verify", "-q"]).arg(&lossy_path).args(["--", "true"]).output().expect("verify");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("is incomplete: 3 check(s) lost"), "{}", stderr(&refused));
    let proven = capdisc().args(["verify", "-q"]).arg(&empty).args(["--", "true"]).output().expect("verify");
    assert_eq!(proven.status.code(), Some(0), "{}", stderr(&proven));
    let failed = capdisc().args(["verify", "-q"]).arg(&empty).args(["--", "false"]).output().expect("verify");
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
}

#[test]
fn an_exercise_drives_a_rare_path_into_the_recording_and_every_trial() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rotated.log");
    std::fs::write(&file, b"x").expect("write");
    let (workload, check) = (workload_path(), check_of(451));
    let file = file.display().to_string();
    let minimize = |out: &Path, exercise: &[&str]| {
        capdisc()
            .args(["minimize", "-q", "--timeout", "15", "--check", &check])
            .args(exercise)
            .arg("-o")
            .arg(out)
            .args(["--", &workload, "serve", "451", "--on-usr1-chown", &file, "1000"])
            .output()
            .expect("minimize")
    };
    // Without it the check never reaches the chown: the proof misses CAP_CHOWN.
    let plain = dir.path().join("plain.yaml");
    let output = minimize(&plain, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plain_profile = capdisc::profile::read(&plain).expect("profile");
    assert_eq!(plain_profile.granted_names(), vec!["CAP_NET_BIND_SERVICE"]);
    // ... but says so: the workload imports chown, and no check of CAP_CHOWN was seen.
    let hint = plain_profile.coverage.unexercised.iter().find(|hint| hint.capability == "CAP_CHOWN").expect("a CAP_CHOWN hint");
    assert!(hint.symbols.contains(&"chown".to_owned()) && hint.executable.ends_with("/workload"), "{hint:?}");
    let dropin = capdisc().args(["generate", "--format", "systemd"]).arg(&plain).output().expect("generate");
    let dropin = String::from_utf8_lossy(&dropin.stdout).into_owned();
    let header = dropin.split("[Service]").next().unwrap_or_default();
    assert!(header.contains("# Possible on paths not exercised") && header.contains("#   CAP_CHOWN (chown"), "{dropin}");
    assert!(!dropin.split("[Service]").nth(1).unwrap_or_default().contains("CAP_CHOWN"), "{dropin}");

    let exercised = dir.path().join("exercised.yaml");
    let output = minimize(&exercised, &["--exercise", "kill -USR1 $MAINPID"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let profile = capdisc::profile::read(&exercised).expect("profile");
    assert_eq!(profile.granted_names(), vec!["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    let proof = profile.verification.as_ref().expect("proof");
    assert_eq!(proof.exercise, vec!["kill -USR1 $MAINPID"]);
    // Each check knows its phase: the bind at the start, the chown after the exercise began.
    let phases_of = |name: &str| profile.capability(name).map(|cap| cap.phases.clone()).unwrap_or_default();
    assert_eq!(phases_of("CAP_NET_BIND_SERVICE"), vec![capdisc::profile::Phase::Start]);
    assert_eq!(phases_of("CAP_CHOWN"), vec![capdisc::profile::Phase::Exercise]);
    assert!(!profile.coverage.unexercised.iter().any(|hint| hint.capability == "CAP_CHOWN"), "{:?}", profile.coverage);
    let chown_use = profile.capability("CAP_CHOWN").expect("CAP_CHOWN recorded");
    assert!(chown_use.call_sites.iter().all(|site| site.phases == [capdisc::profile::Phase::Exercise]), "{:?}", chown_use.call_sites);
    let chown = proof.capabilities.iter().find(|verdict| verdict.name == "CAP_CHOWN").expect("verdict");
    assert_eq!(chown.verdict, capdisc::profile::Decision::Kept);
    assert!(chown.evidence.contains(&format!("denied CAP_CHOWN in chown {file}")), "{}", chown.evidence);

    let failing = capdisc()
        .args(["verify", "-q"])
        .arg(&exercised)
        .args(["--check", &check, "--exercise", "false", "--", &workload, "serve", "451"])
        .output()
        .expect("verify");
    let stdout = String::from_utf8_lossy(&failing.stdout).into_owned();
    assert_eq!(failing.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("verify: FAILED: the exercise `false` failed (exit 1: )"), "{stdout}");
}

/// A one-shot server answers the check's request and exits 0: the check passed, so the trial
/// passes, whatever the command did after (every trial failed: "the command ended (0) before the
/// check passed"). Without CAP_NET_BIND_SERVICE its bind fails, it exits 1, and no check can
/// pass: that trial fails, quickly, so the capability is kept.
#[test]
fn a_one_shot_service_passes_when_its_check_passed() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("proven.yaml");
    let workload = workload_path();
    let check = format!("{workload} greeted 452");
    let output = capdisc()
        .args(["minimize", "-o", out.to_str().expect("utf-8"), "--timeout", "20", "--check", &check, "--", &workload, "serve-once", "452"])
        .output()
        .expect("run capdisc");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let proven = capdisc::profile::read(&out).expect("profile reads back");
    let verification = proven.verification.as_ref().expect("a proof");
    let kept: Vec<&str> = verification.kept().collect();
    assert_eq!(kept, vec!["CAP_NET_BIND_SERVICE"], "{stdout}{stderr}");
    assert!(verification.passed, "{stdout}{stderr}");
    assert!(stderr.contains("ended before the check"), "the trial without the bind says why: {stderr}");
}
