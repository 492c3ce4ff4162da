//! Real Debian daemons with their shipped units: nginx proven with an HTTP check through its
//! whole life and verified under its proof; and how many capabilities each daemon's imports
//! imply that a plain recording of its start never shows (the README's precision table).
use capdisc::{profile::Phase, profile::Profile};
use capdisc_guest_tests::{command::capdisc, expect, guest, profile, unit, wait};

use super::nginx_proof;

const NGINX_URL: &str = "http://127.0.0.1:80/";

#[test]
fn s10_nginx_is_proven_through_its_life_and_verified() {
    guest!();
    let (path, minimized) = nginx_proof();
    minimized.expect_exit(0);
    let proof = profile(path);
    let verification = proof.verification.as_ref().expect("a proof");
    capdisc_guest_tests::report(&format!("nginx recorded: {}; proven: {}", granted(&proof).join(" "), kept(&proof).join(" ")));
    expect::equal("the proof's phases", &verification.phases, &vec![Phase::Start, Phase::Reload, Phase::Stop, Phase::StartAgain]);
    let used: Vec<_> = proof.capabilities.iter().filter(|cap| cap.class.granted()).collect();
    expect::that(
        !used.is_empty() && used.iter().all(|cap| !cap.phases.is_empty()),
        "each capability nginx uses knows its phases",
        used.iter().map(|cap| (cap.name.as_str(), &cap.phases)).collect::<Vec<_>>(),
    );
    let hints: Vec<&str> = proof
        .coverage
        .unexercised
        .iter()
        .filter(|hint| hint.executable == "/usr/sbin/nginx")
        .map(|hint| hint.capability.as_str())
        .collect();
    expect::that(!hints.is_empty(), "coverage hints for /usr/sbin/nginx", &proof.coverage);
    capdisc(&["generate", path]).expect_exit(0).expect_says("# Possible on paths not exercised");
    capdisc(&["verify", path, "--unit", "nginx.service", "--check", "curl -fsS -o /dev/null http://127.0.0.1:80/", "--timeout", "60"])
        .expect_exit(0);
    wait::must(20, "nginx answers afterwards", || unit::answers(NGINX_URL), || unit::state("nginx.service"));
    expect::equal("HTTP status", unit::http(NGINX_URL).0.as_str(), "200");
}

/// A `systemctl` that logs each call (start and end in ns, its arguments) to `log`, in a
/// directory put first on capdisc's PATH.
fn counting_systemctl(dir: &str, log: &str) {
    std::fs::create_dir_all(dir).expect("the wrapper's directory");
    let script = format!(
        "#!/bin/sh\nstart=$(date +%s%N)\n/usr/bin/systemctl \"$@\"\nstatus=$?\necho \"$start $(date +%s%N) $*\" >> {log}\nexit $status\n"
    );
    std::fs::write(format!("{dir}/systemctl"), script).expect("the wrapper");
    capdisc_guest_tests::command::run("chmod", &["755", &format!("{dir}/systemctl")]).expect_exit(0);
}

#[test]
fn s10b_what_systemctl_costs_one_trial_of_nginx() {
    guest!();
    let (path, minimized) = nginx_proof();
    minimized.expect_exit(0);
    let (dir, log) = ("/tmp/capdisc-counting", "/tmp/capdisc-systemctl-calls");
    counting_systemctl(dir, log);
    let _ = std::fs::remove_file(log);
    let started = std::time::Instant::now();
    let path_var = format!("PATH={dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let verified = capdisc_guest_tests::command::run(
        "env",
        &[
            &path_var,
            "capdisc",
            "verify",
            path,
            "--unit",
            "nginx.service",
            "--check",
            "curl -fsS -o /dev/null http://127.0.0.1:80/",
            "--timeout",
            "60",
        ],
    );
    let trial_ms = started.elapsed().as_millis();
    verified.expect_exit(0);
    let calls: Vec<(u128, String)> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut words = line.splitn(3, ' ');
            let start: u128 = words.next()?.parse().ok()?;
            let end: u128 = words.next()?.parse().ok()?;
            let verb = words.next().unwrap_or_default().split_whitespace().next().unwrap_or_default().to_owned();
            Some(((end - start) / 1_000_000, verb))
        })
        .collect();
    let mut by_verb: std::collections::BTreeMap<&str, (usize, u128)> = std::collections::BTreeMap::new();
    for (ms, verb) in &calls {
        let entry = by_verb.entry(verb.as_str()).or_default();
        entry.0 += 1;
        entry.1 += ms;
    }
    let total: u128 = calls.iter().map(|(ms, _)| ms).sum();
    let verbs: Vec<String> = by_verb.iter().map(|(verb, (count, ms))| format!("{verb} {count}x {ms} ms")).collect();
    println!(
        "report: one verify trial of nginx: {trial_ms} ms; {} systemctl processes, {total} ms in them ({})",
        calls.len(),
        verbs.join(", ")
    );
    expect::that(!calls.is_empty(), "the trial's systemctl calls counted", verified.output());
}

/// Recorded capabilities the recording grants (required, conditional).
fn granted(profile: &Profile) -> Vec<String> {
    profile.capabilities.iter().filter(|cap| cap.class.granted()).map(|cap| cap.name.clone()).collect()
}

/// Capabilities a proof kept.
fn kept(profile: &Profile) -> Vec<String> {
    profile.verification.iter().flat_map(|v| v.kept()).map(str::to_owned).collect()
}

/// What a daemon's start alone (a permissive recording of its restart) hints at, against what
/// its whole-life proof (`proof`, or one made here with `check`) saw and kept.
fn precision(unit_name: &str, check: &str, proof: Option<&str>) {
    let start = format!("/root/{unit_name}-start.json");
    unit::shipped(unit_name);
    capdisc(&["record", "--unit", unit_name, "--restart", "--permissive", "--duration", "10", "--json", "-o", &start]).expect_exit(0);
    let made = format!("/root/{unit_name}-proof.json");
    let proof = match proof {
        Some(proof) => proof.to_owned(),
        None => {
            capdisc(&["minimize", "--unit", unit_name, "--check", check, "--timeout", "90", "--json", "-o", &made]).expect_exit(0);
            made
        }
    };
    let hints: std::collections::BTreeSet<String> =
        profile(&start).coverage.unexercised.iter().map(|hint| hint.capability.clone()).collect();
    let proven = profile(&proof);
    let seen: Vec<&str> = proven.capabilities.iter().map(|cap| cap.name.as_str()).collect();
    println!(
        "report: precision {unit_name} hints=[{}] seen=[{}] kept=[{}]",
        hints.into_iter().collect::<Vec<_>>().join(" "),
        seen.join(" "),
        kept(&proven).join(" ")
    );
}

#[test]
fn s11e_coverage_hints_against_whole_life_proofs() {
    guest!();
    let (nginx, minimized) = nginx_proof();
    minimized.expect_exit(0);
    precision("nginx.service", "", Some(nginx));
    precision("ssh.service", "ssh-keyscan -T 10 127.0.0.1 2>/dev/null | grep -q ssh-", None);
    precision("chrony.service", "chronyc -n tracking", None);
}
