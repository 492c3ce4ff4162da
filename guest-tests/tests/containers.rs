//! capdisc with a container runtime in the systemd guest (podman 4.3, crun): a container
//! recorded attached and from its start (the runtime's work kept apart as set-up), a run command
//! recorded from its first task, a proof by trial containers, the generated flags run by podman,
//! and capdisc killed in the middle of each: its guardian starts the container again and leaves
//! nothing of its own; the confinement beyond capabilities (`minimize --sandbox`: a seccomp
//! allow-list and a read-only root) proven, and run by podman from generate's output.
use std::sync::OnceLock;

use capdisc::{classify::Class, profile::Decision};
use capdisc_guest_tests::{
    classed,
    command::{capdisc, Run, Started},
    container::{caps_of, generated, leftovers, line_has_in_order, podman, running, serves, sets_of, web_serving, CHECK, PORT},
    expect, guest, profile, report, wait,
};

const BOTH: [&str; 2] = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"];

/// The capabilities a profile puts down to the container runtime's set-up.
fn setup(path: &str) -> Vec<String> {
    let recorded = profile(path);
    recorded
        .capabilities
        .iter()
        .filter(|cap| cap.class == Class::Setup && cap.reason.contains("container runtime"))
        .map(|cap| cap.name.clone())
        .collect()
}

/// The runtime's set-up holds at least its credential and namespace work, and never a need.
fn expect_setup_apart(path: &str, needs: &[&str]) {
    let setup = setup(path);
    expect::that(
        ["CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN"].iter().all(|cap| setup.iter().any(|s| s == cap))
            && needs.iter().all(|need| !setup.iter().any(|s| s == need)),
        &format!("set-up holds CAP_SETUID, CAP_SETGID, CAP_SYS_ADMIN and none of {needs:?}"),
        &setup,
    );
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn c00_the_image_is_imported_offline_and_the_container_serves() {
    guest!();
    web_serving();
    expect::that(running("web"), "web running", podman(&["ps", "-a"]).output());
}

#[test]
fn c01_attached_a_podman_exec_chown_is_the_need_and_the_join_is_setup() {
    guest!();
    web_serving();
    let recorder = Started::recording(&["record", "--container", "web", "--duration", "40", "-o", "/tmp/c1.yaml"], "c1");
    podman(&["exec", "web", "/workload", "chown", "/tmp", "65534"]).expect_exit(0);
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("required", &classed("/tmp/c1.yaml", Class::Required), &strings(&["CAP_CHOWN"]));
    // Unproven, for the container's non-root user (the runtime's uid-0 set-up aside), generate
    // leaves the root-equivalent CAP_CHOWN out.
    expect::equal("generated", &generated("/tmp/c1.yaml"), &Vec::new());
    expect_setup_apart("/tmp/c1.yaml", &["CAP_CHOWN"]);
}

#[test]
fn c02_from_its_start_exactly_chown_and_bind_and_crun_is_setup() {
    guest!();
    web_serving();
    let recorder = Started::recording(&["record", "--container", "web", "--restart", "--duration", "60", "-o", "/tmp/c2.yaml"], "c2");
    wait::must(120, "web serves again under the recording", || serves(PORT), || recorder.output());
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("required", &classed("/tmp/c2.yaml", Class::Required), &strings(&BOTH));
    expect_setup_apart("/tmp/c2.yaml", &BOTH);
    expect::that(running("web"), "web runs on afterwards", podman(&["ps", "-a"]).output());
}

#[test]
fn c02b_killed_while_the_container_is_stopped_the_guardian_starts_it() {
    guest!();
    web_serving();
    let recorder =
        Started::new("capdisc", &["record", "--container", "web", "--restart", "--duration", "60", "-o", "/tmp/c2b.yaml"], "c2b");
    wait::must(120, "web stopped for its restart", || !running("web"), || recorder.output());
    recorder.signal(libc::SIGKILL);
    recorder.wait();
    wait::must(120, "web running and serving again", || running("web") && serves(PORT), || podman(&["ps", "-a"]).output());
}

/// The serve-only run command recorded from its first task (not the podman client).
fn serve_only() -> &'static Run {
    static RECORDED: OnceLock<Run> = OnceLock::new();
    RECORDED.get_or_init(|| {
        capdisc(&[
            "record",
            "-o",
            "/tmp/c3.yaml",
            "--duration",
            "45",
            "--",
            "podman",
            "run",
            "--rm",
            "--network=host",
            "--user",
            "65534:65534",
            "--cap-add=all",
            "localhost/web",
            "/workload",
            "serve",
            "605",
        ])
    })
}

#[test]
fn c03_a_run_command_is_recorded_from_its_container_not_the_client() {
    guest!();
    web_serving();
    serve_only().expect_exit(0);
    expect::equal("required", &classed("/tmp/c3.yaml", Class::Required), &strings(&["CAP_NET_BIND_SERVICE"]));
}

/// web's proof: every trial re-runs web's own create command under one set, as a container of
/// capdisc's own, while web is stopped.
fn web_proof() -> &'static Run {
    static PROOF: OnceLock<Run> = OnceLock::new();
    PROOF.get_or_init(|| {
        web_serving();
        capdisc(&["minimize", "--container", "web", "--check", CHECK, "--timeout", "45", "-o", "/tmp/c4.yaml"])
    })
}

/// After a proof: web serves again, and no trial container or cgroup is left.
fn web_back_and_nothing_left() {
    wait::must(120, "web serves again after the proof", || running("web") && serves(PORT), || podman(&["ps", "-a"]).output());
    expect::equal("trial containers and cgroups left", &leftovers(), &(0, 0));
}

/// The flags `generate --format podman` writes for `profile` (its last line).
fn podman_flags(profile: &str) -> String {
    let generated = capdisc(&["generate", profile, "--format", "podman"]);
    generated.expect_exit(0);
    generated.stdout.lines().last().unwrap_or_default().to_owned()
}

/// Runs web's image as `web-gen` with `flags` in web's place (stopped), until it serves or 120 s
/// pass; `probe` looks at it while it runs; then web-gen is removed and web started again.
/// Whether it served, its logs, and what `probe` saw.
fn in_web_gen<T>(flags: &str, probe: impl FnOnce() -> T) -> (bool, String, T) {
    web_serving();
    podman(&["stop", "-t", "2", "web"]).expect_exit(0);
    let _ = podman(&["rm", "-f", "web-gen"]);
    let mut args = vec!["run", "-d", "-q", "--name", "web-gen", "--network=host", "--user", "65534:65534", "--tmpfs", "/run/app"];
    args.extend(flags.split_whitespace());
    args.push("localhost/web");
    podman(&args).expect_exit(0);
    let served = wait::until(120, || serves(PORT));
    let seen = probe();
    let logs = podman(&["logs", "web-gen"]).output();
    podman(&["rm", "-f", "web-gen"]);
    podman(&["start", "web"]);
    (served, logs, seen)
}

#[test]
fn c04_minimize_proves_chown_and_bind_and_leaves_nothing() {
    guest!();
    let proof = web_proof();
    proof.expect_exit(0);
    expect::equal("generated from the proof", &generated("/tmp/c4.yaml"), &strings(&BOTH));
    expect::that(
        line_has_in_order(&proof.output(), &["CAP_CHOWN ", "kept ", "denied CAP_CHOWN in ", "chown ", "by workload"]),
        "the trial without CAP_CHOWN failed, naming chown by workload",
        proof.output(),
    );
    web_back_and_nothing_left();
}

#[test]
fn c05_podman_runs_the_generated_flags_with_exactly_that_set() {
    guest!();
    web_proof().expect_exit(0);
    let flags = podman_flags("/tmp/c4.yaml");
    expect::equal("flags", flags.as_str(), "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE");
    let (served, logs, sets) = in_web_gen(&flags, || sets_of("web-gen"));
    expect::that(served, "the service serves under the generated flags", logs);
    expect::equal("effective, bounding, ambient", sets.as_str(), "0000000000000401 0000000000000401 0000000000000401");
}

#[test]
fn c06_verify_of_a_narrower_set_fails_naming_chown() {
    guest!();
    serve_only().expect_exit(0);
    web_serving();
    let verified = capdisc(&["verify", "/tmp/c3.yaml", "--container", "web", "--check", CHECK, "--timeout", "60"]);
    verified.expect_exit(1);
    expect::that(
        line_has_in_order(&verified.output(), &["denied: CAP_CHOWN in ", "chown ", "by workload"]),
        "denied: CAP_CHOWN in chown ... by workload",
        verified.output(),
    );
}

#[test]
fn c07_killed_mid_proof_the_guardian_removes_its_trial_and_starts_web() {
    guest!();
    web_serving();
    let prover =
        Started::new("capdisc", &["minimize", "--container", "web", "--check", CHECK, "--timeout", "45", "-o", "/tmp/c7.yaml"], "c7");
    wait::must(300, "a trial container running", || leftovers().0 > 0 && !running("web"), || prover.output());
    prover.signal(libc::SIGKILL);
    prover.wait();
    wait::must(120, "no trial container left", || leftovers().0 == 0, || podman(&["ps", "-a"]).output());
    wait::must(120, "web running and serving again", || running("web") && serves(PORT), || podman(&["ps", "-a"]).output());
    expect::equal("trial containers and cgroups left", &leftovers(), &(0, 0));
}

#[test]
fn c08_podmans_own_help_gives_the_switches_capdisc_reads_its_run_commands_by() {
    guest!();
    let help = podman(&["run", "--help"]);
    help.expect_exit(0);
    capdisc_guest_tests::container::expect_runtime_switches(capdisc::container::Switches::from_help(&help.stdout).as_ref(), &help.stdout);
}

/// web's proof with its confinement: the capability trials, then a seccomp allow-list of what
/// its container did and a read-only root, tried as podman takes them; a `podman exec` into each
/// trial's container as an exercise (crun loads the filter earlier for an exec).
fn web_sandbox_proof() -> &'static Run {
    static PROOF: OnceLock<Run> = OnceLock::new();
    PROOF.get_or_init(|| {
        web_serving();
        capdisc(&[
            "minimize",
            "--container",
            "web",
            "--sandbox",
            "--check",
            CHECK,
            "--exercise",
            "podman exec $CONTAINER /workload noop",
            "--timeout",
            "45",
            "-o",
            "/tmp/c9.yaml",
        ])
    })
}

/// The values of a setting the proof of `path` kept for the container, if it kept it.
fn kept_confinement(path: &str, key: &str) -> Option<Vec<String>> {
    let proof = profile(path).verification?;
    proof
        .container_sandbox
        .into_iter()
        .find(|setting| setting.setting == key && setting.verdict == Decision::Kept)
        .map(|setting| setting.values)
}

#[test]
fn c09_minimize_sandbox_proves_a_seccomp_allow_list_of_the_containers_calls_and_a_read_only_root() {
    guest!();
    let proof = web_sandbox_proof();
    proof.expect_exit(0);
    expect::equal("generated from the proof", &generated("/tmp/c9.yaml"), &strings(&BOTH));
    let calls = kept_confinement("/tmp/c9.yaml", "seccomp").unwrap_or_default();
    let trials = profile("/tmp/c9.yaml").verification.map(|proof| proof.sandbox_trials.len()).unwrap_or(0);
    report(&format!("container web: seccomp allow-list of {} call(s): {}; {trials} sandboxing trial(s)", calls.len(), calls.join(" ")));
    let trial_lines: Vec<&str> =
        proof.stdout.lines().filter(|line| line.starts_with("sandboxing trial") || line.starts_with("  seccomp: ")).collect();
    report(&trial_lines.join("\n"));
    // Its own calls, and the runtime's exec under the filter.
    expect::that(
        ["socket", "bind", "listen", "execve"].iter().all(|call| calls.iter().any(|kept| kept == call)),
        "the allow-list holds socket, bind, listen and execve",
        &calls,
    );
    // crun's set-up before the exec is not the container's.
    expect::that(
        !["mount", "pivot_root", "unshare", "setns", "sethostname"].iter().any(|call| calls.iter().any(|kept| kept == call)),
        "the allow-list holds none of crun's set-up calls (mount, pivot_root, unshare, setns, sethostname)",
        &calls,
    );
    expect::equal("read-only kept", &kept_confinement("/tmp/c9.yaml", "read-only"), &Some(vec!["true".to_owned()]));
    expect::equal("no-new-privileges kept", &kept_confinement("/tmp/c9.yaml", "no-new-privileges"), &Some(vec!["true".to_owned()]));
    web_back_and_nothing_left();
}

#[test]
fn c10_podman_runs_the_generated_seccomp_profile_and_read_only_root_and_refuses_the_rest() {
    guest!();
    web_sandbox_proof().expect_exit(0);
    capdisc(&["generate", "/tmp/c9.yaml", "--format", "seccomp", "-o", "/tmp/c9.seccomp.json"]).expect_exit(0);
    let flags = podman_flags("/tmp/c9.yaml");
    expect::equal(
        "flags",
        flags.as_str(),
        "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE --security-opt=no-new-privileges --security-opt=seccomp=/tmp/c9.seccomp.json --read-only",
    );
    let (served, logs, (sets, seccomp, read_only, noop, refused)) = in_web_gen(&flags, || {
        let pid = podman(&["inspect", "--format", "{{.State.Pid}}", "web-gen"]).stdout.trim().to_owned();
        (
            sets_of("web-gen"),
            caps_of(&pid, "Seccomp"),
            podman(&["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", "web-gen"]).stdout.trim().to_owned(),
            podman(&["exec", "web-gen", "/workload", "noop"]),
            podman(&["exec", "web-gen", "/workload", "call", "unshare"]),
        )
    });
    expect::that(served, "the service serves under the generated flags and profile", logs);
    expect::equal("effective, bounding, ambient", sets.as_str(), "0000000000000401 0000000000000401 0000000000000401");
    expect::equal("seccomp mode of its process (2: a filter)", seccomp.as_str(), "2");
    expect::equal("read-only root", read_only.as_str(), "true");
    // An exec the proof's exercise ran works; a call the container never made is refused.
    noop.expect_exit(0);
    refused.expect_exit(1);
    expect::that(
        refused.stdout.contains("unshare: refused: Operation not permitted"),
        "unshare refused with EPERM by the profile",
        refused.output(),
    );
}
