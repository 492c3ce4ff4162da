//! capdisc with a container runtime in the systemd guest (podman 4.3, crun): a container
//! recorded attached and from its start (the runtime's work kept apart as set-up), a run command
//! recorded from its first task, a proof by trial containers, the generated flags run by podman,
//! and capdisc killed in the middle of each: its guardian starts the container again and leaves
//! nothing of its own.
use std::sync::OnceLock;

use capdisc::classify::Class;
use capdisc_guest_tests::{
    classed,
    command::{capdisc, Run, Started},
    container::{generated, leftovers, line_has_in_order, podman, running, serves, sets_of, web_serving, CHECK, PORT},
    expect, guest, profile, wait,
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
    wait::must(120, "web serves again after the proof", || running("web") && serves(PORT), || podman(&["ps", "-a"]).output());
    expect::equal("trial containers and cgroups left", &leftovers(), &(0, 0));
}

#[test]
fn c05_podman_runs_the_generated_flags_with_exactly_that_set() {
    guest!();
    web_proof().expect_exit(0);
    let generated = capdisc(&["generate", "/tmp/c4.yaml", "--format", "podman"]);
    generated.expect_exit(0);
    let flags = generated.stdout.lines().last().unwrap_or_default().to_owned();
    expect::equal("flags", flags.as_str(), "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE");
    podman(&["stop", "-t", "2", "web"]).expect_exit(0);
    let _ = podman(&["rm", "-f", "web-gen"]);
    let mut args = vec!["run", "-d", "-q", "--name", "web-gen", "--network=host", "--user", "65534:65534", "--tmpfs", "/run/app"];
    args.extend(flags.split_whitespace());
    args.push("localhost/web");
    podman(&args).expect_exit(0);
    let served = wait::until(120, || serves(PORT));
    let (sets, logs) = (sets_of("web-gen"), podman(&["logs", "web-gen"]).output());
    podman(&["rm", "-f", "web-gen"]);
    podman(&["start", "web"]);
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
