//! capdisc with rootless podman: a user's own podman (alice, uid 1001, a lingering session:
//! /run/user/1001, her systemd and bus), her containers in her user namespace, networked by
//! slirp4netns (pasta sandboxes itself with pivot_root, which an initramfs root refuses) with
//! :604 inside published on :8604.
use std::sync::OnceLock;

use capdisc::classify::Class;
use capdisc_guest_tests::{
    classed,
    command::{capdisc, run, Run, Started},
    container::{generated, import_web, line_has_in_order},
    expect, guest, profile, wait,
};

const ALICE: &str = "alice";
/// A check through the port forwarder: rootlessport accepts on :8604 before the service is up,
/// so the check reads the service's greeting; the forwarder connects to the container's
/// address, so the service listens on every address (WORKLOAD_ADDR).
const CHECK: &str = "capdisc-workload greeted 8604";

/// alice, lingering, her bus up; slirp4netns's tun device loaded (a module of the guest's
/// kernel, carried in the image; no udev here to open it up to users).
fn alice() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        run("insmod", &["/usr/local/lib/capdisc/tun.ko"]);
        run("chmod", &["666", "/dev/net/tun"]).expect_exit(0);
        if run("id", &[ALICE]).code != 0 {
            run("useradd", &["-m", "-u", "1001", "-s", "/bin/bash", ALICE]).expect_exit(0);
        }
        run("loginctl", &["enable-linger", ALICE]).expect_exit(0);
        wait::must(
            120,
            "alice's bus",
            || std::path::Path::new("/run/user/1001/bus").exists(),
            || run("loginctl", &["list-users"]).output(),
        );
    });
}

/// A command run as alice in her session, from her home: `as_alice()` + [PROGRAM, ARGS...].
fn as_alice() -> Vec<&'static str> {
    vec![
        "runuser",
        "-u",
        ALICE,
        "--",
        "env",
        "XDG_RUNTIME_DIR=/run/user/1001",
        "HOME=/home/alice",
        "sh",
        "-c",
        "cd /home/alice && exec \"$@\"",
        "sh",
    ]
}

/// `podman ARGS` as alice.
fn podman(args: &[&str]) -> Run {
    let mut all = as_alice();
    all.push("podman");
    all.extend_from_slice(args);
    run(all[0], &all[1..])
}

/// Whether the service greets through `port`.
fn greets(port: u16) -> bool {
    run("capdisc-workload", &["greeted", &port.to_string()]).code == 0
}

fn running(name: &str) -> bool {
    podman(&["inspect", "--format", "{{.State.Running}}", name]).stdout.trim() == "true"
}

/// The arguments of a `podman run` of the test image by alice, published on `port`.
fn run_args<'a>(name: &'a str, port: &'a str, caps: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "-d",
        "-q",
        "--name",
        name,
        "--network=slirp4netns",
        "-p",
        port,
        "-e",
        "WORKLOAD_ADDR=0.0.0.0",
        "--user",
        "65534:65534",
    ];
    args.extend_from_slice(caps);
    args.extend(["--tmpfs", "/run/app", "localhost/web"]);
    args
}

/// alice's `web`, every capability added, serving on :8604; her other containers removed.
fn web() {
    alice();
    podman(&["rm", "-af", "-t", "2"]);
    if podman(&["image", "exists", "localhost/web"]).code != 0 {
        import_web_as_alice();
    }
    podman(&run_args("web", "8604:604", &["--cap-add=all"])).expect_exit(0);
    wait::must(120, "web greets on :8604", || greets(8604), || podman(&["logs", "web"]).output());
}

/// The test image imported by alice's podman.
fn import_web_as_alice() {
    let mut command = as_alice();
    command.push("podman");
    import_web(&command).expect_exit(0);
}

fn both() -> Vec<String> {
    vec!["CAP_CHOWN".into(), "CAP_NET_BIND_SERVICE".into()]
}

/// alice's trial containers, capdisc's cgroups, and the directories her podman wrote their ids in.
fn leftovers() -> (usize, usize, usize) {
    let trials = podman(&["ps", "-a", "--format", "{{.Names}}"]).stdout.lines().filter(|name| name.starts_with("capdisc-")).count();
    let count = |dir: &str| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("capdisc-"))
            .count()
    };
    (trials, count("/sys/fs/cgroup"), count("/run/capdisc/containers"))
}

#[test]
fn r01_attached_during_exec_the_chown_is_the_need_nothing_denied() {
    guest!();
    web();
    let recorder =
        Started::recording(&["record", "--container", "web", "--rootless", ALICE, "-o", "/tmp/r1.yaml", "--duration", "40"], "r1");
    podman(&["exec", "web", "/workload", "chown", "/tmp", "65534"]).expect_exit(0);
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("generated", &generated("/tmp/r1.yaml"), &vec!["CAP_CHOWN".to_owned()]);
    expect::equal("denied", &classed("/tmp/r1.yaml", Class::Denied), &Vec::new());
    let text = std::fs::read_to_string("/tmp/r1.yaml").unwrap_or_default();
    expect::that(text.lines().any(|line| line.trim() == "rootless_user: alice"), "the profile names alice", &text);
    expect::that(
        text.lines().any(|line| {
            line.starts_with("  reason: ")
                && (line.contains("in the container's user namespace") || line.contains("in the container''s user namespace"))
        }),
        "a reason naming the container's user namespace",
        &text,
    );
}

#[test]
fn r02_from_its_start_its_scope_handed_to_alices_systemd() {
    guest!();
    web();
    let recorder = Started::recording(
        &["record", "--container", "web", "--rootless", ALICE, "--restart", "-o", "/tmp/r2.yaml", "--duration", "60"],
        "r2",
    );
    wait::must(120, "web greets again", || greets(8604), || recorder.output());
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("generated", &generated("/tmp/r2.yaml"), &both());
    expect::that(running("web"), "web runs on", podman(&["ps", "-a"]).output());
}

#[test]
fn r03_a_run_command_as_alice_under_a_delegated_cgroup() {
    guest!();
    web();
    let recorder = Started::new(
        "capdisc",
        &[
            "record",
            "--rootless",
            ALICE,
            "-o",
            "/tmp/r3.yaml",
            "--duration",
            "60",
            "--",
            "podman",
            "run",
            "--rm",
            "--network=slirp4netns",
            "-p",
            "8605:604",
            "-e",
            "WORKLOAD_ADDR=0.0.0.0",
            "--user",
            "65534:65534",
            "--cap-add=all",
            "--tmpfs",
            "/run/app",
            "localhost/web",
        ],
        "r3",
    );
    wait::must(120, "the run greets on :8605", || greets(8605), || recorder.output());
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("generated", &generated("/tmp/r3.yaml"), &both());
    expect::equal("leftovers", &leftovers(), &(0, 0, 0));
}

/// alice's web proven (each trial re-running web's create command as alice under one set).
fn proof() -> &'static Run {
    static PROVEN: OnceLock<Run> = OnceLock::new();
    PROVEN.get_or_init(|| {
        web();
        capdisc(&["minimize", "--container", "web", "--rootless", ALICE, "--check", CHECK, "--timeout", "60", "-o", "/tmp/r4.yaml"])
    })
}

#[test]
fn r04_minimize_proves_exactly_the_two_and_leaves_nothing() {
    guest!();
    let proven = proof();
    proven.expect_exit(0);
    expect::equal("generated", &generated("/tmp/r4.yaml"), &both());
    expect::that(
        line_has_in_order(&proven.output(), &["CAP_CHOWN ", "kept ", "denied CAP_CHOWN in ", "chown ", "by workload"]),
        "the chown denial named",
        proven.output(),
    );
    wait::must(120, "web greets again", || running("web") && greets(8604), || podman(&["ps", "-a"]).output());
    expect::equal("leftovers", &leftovers(), &(0, 0, 0));
}

#[test]
fn r05_alices_podman_runs_the_generated_flags_with_exactly_that_set() {
    guest!();
    proof().expect_exit(0);
    let generated = capdisc(&["generate", "/tmp/r4.yaml", "--format", "podman"]);
    generated.expect_exit(0);
    let flags = generated.stdout.lines().last().unwrap_or_default().to_owned();
    expect::equal("flags", flags.as_str(), "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE");
    podman(&["rm", "-af", "-t", "2"]);
    podman(&run_args("web-gen", "8604:604", &flags.split_whitespace().collect::<Vec<_>>())).expect_exit(0);
    wait::must(120, "web-gen greets", || greets(8604), || podman(&["logs", "web-gen"]).output());
    let sets = capdisc_guest_tests::container::sets_of_pid(podman(&["inspect", "--format", "{{.State.Pid}}", "web-gen"]).stdout.trim());
    podman(&["rm", "-f", "-t", "2", "web-gen"]);
    expect::equal("effective, bounding, ambient", sets.as_str(), "0000000000000401 0000000000000401 0000000000000401");
}

#[test]
fn r06_killed_mid_proof_the_guardian_removes_alices_trial() {
    guest!();
    web();
    let prover = Started::new(
        "capdisc",
        &["minimize", "--container", "web", "--rootless", ALICE, "--check", CHECK, "--timeout", "45", "-o", "/tmp/r6.yaml"],
        "r6",
    );
    let trial_runs = || podman(&["ps", "--format", "{{.Names}}"]).stdout.lines().any(|name| name.starts_with("capdisc-"));
    wait::must(300, "a trial container running", trial_runs, || prover.output());
    prover.signal(libc::SIGKILL);
    prover.wait();
    wait::must(120, "no trial container left", || leftovers().0 == 0, || podman(&["ps", "-a"]).output());
    wait::must(120, "web greets again", || running("web") && greets(8604), || podman(&["ps", "-a"]).output());
    expect::equal("leftovers", &leftovers(), &(0, 0, 0));
}

#[test]
fn r07_trace_shows_the_execd_chown_in_the_containers_user_namespace() {
    guest!();
    web();
    let tracer = Started::recording(&["trace", "--json", "--container", "web", "--rootless", ALICE, "--duration", "60"], "r7");
    // To uid 0, not the caller's own: a chown to one's own uid of what one owns checks nothing.
    podman(&["exec", "web", "/workload", "chown", "/tmp", "0"]).expect_exit(0);
    tracer.signal(libc::SIGINT);
    let traced = tracer.wait();
    let seen = traced.stdout.lines().any(|line| {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { return false };
        event["cap_name"] == "CAP_CHOWN" && event["comm"] == "workload" && event["verdict"] == "granted" && event["foreign_userns"] == true
    });
    expect::that(seen, "CAP_CHOWN granted to workload in a foreign user namespace", traced.output());
}

#[test]
fn r08_a_bind_on_the_hosts_network_is_denied_and_no_flag_grants_it() {
    guest!();
    web();
    podman(&[
        "run",
        "-d",
        "-q",
        "--name",
        "webh",
        "--network=host",
        "--user",
        "65534:65534",
        "--cap-add=all",
        "--tmpfs",
        "/run/app",
        "localhost/web",
        "/workload",
        "chown-then-serve",
        "/run/app",
        "65534",
        "605",
    ])
    .expect_exit(0);
    capdisc(&["record", "--container", "webh", "--rootless", ALICE, "--restart", "-o", "/tmp/r8.yaml", "--duration", "20"]).expect_exit(0);
    expect::equal("denied", &classed("/tmp/r8.yaml", Class::Denied), &vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    let recorded = profile("/tmp/r8.yaml");
    let reason = recorded.capability("CAP_NET_BIND_SERVICE").map(|cap| cap.reason.clone()).unwrap_or_default();
    expect::that(
        reason.starts_with("denied ")
            && reason.contains("against the host's user namespace, where a rootless container holds no capability: no --cap-add grants it"),
        "the reason: denied ... against the host's user namespace ... no --cap-add grants it",
        &reason,
    );
    podman(&["rm", "-af", "-t", "2"]);
}
