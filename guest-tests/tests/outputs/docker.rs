//! capdisc with a real docker daemon: Debian's docker.io under systemd with its default cgroup
//! driver (systemd, on cgroup v2), the vfs storage driver and no bridge (the guest's kernel
//! carries neither overlay nor bridge modules), runc told not to pivot_root (DOCKER_RAMDISK).
use std::path::Path;

use capdisc::classify::Class;
use capdisc_guest_tests::{
    classed,
    command::{capdisc, run, Run, Started},
    container::{clean_slate, generated, import_web, serves, CHECK, PORT},
    expect, guest, unit, wait,
};

const BASE: &str = "\"storage-driver\": \"vfs\", \"bridge\": \"none\", \"iptables\": false, \"ip6tables\": false";
const ELSEWHERE: &str = "/etc/systemd/system/docker.service.d/elsewhere.conf";

/// How the daemon places its containers' cgroups.
#[derive(Clone, Copy, PartialEq)]
enum Daemon {
    /// Debian's default: the systemd driver, each container in system.slice/docker-ID.scope.
    Systemd,
    /// The cgroupfs driver with daemon.json's `cgroup-parent`: /ops/ID.
    Cgroupfs,
    /// A cgroup parent on dockerd's command line, which capdisc cannot read.
    Elsewhere,
}

fn docker(args: &[&str]) -> Run {
    run("docker", args)
}

/// The daemon configured as `how`, running, no container, the test image imported.
fn daemon(how: Daemon) {
    let json = match how {
        Daemon::Systemd => format!("{{{BASE}}}\n"),
        Daemon::Cgroupfs => format!("{{\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"], \"cgroup-parent\": \"/ops\", {BASE}}}\n"),
        Daemon::Elsewhere => format!("{{\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"], {BASE}}}\n"),
    };
    let elsewhere = (how == Daemon::Elsewhere).then_some(
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --cgroup-parent=/elsewhere\n",
    );
    let changed = std::fs::read_to_string("/etc/docker/daemon.json").ok().as_deref() != Some(json.as_str())
        || std::fs::read_to_string(ELSEWHERE).ok().as_deref() != elsewhere;
    if changed || !unit::is_active("docker.service") {
        std::fs::write("/etc/docker/daemon.json", &json).expect("daemon.json");
        match elsewhere {
            Some(text) => std::fs::write(ELSEWHERE, text).expect("the dockerd drop-in"),
            None => {
                let _ = std::fs::remove_file(ELSEWHERE);
            }
        }
        unit::systemctl(&["daemon-reload"]);
        unit::systemctl(&["restart", "docker.service"]).expect_exit(0);
    }
    wait::must(120, "docker info answers", || docker(&["info"]).code == 0, || unit::tail(&unit::journal("docker.service"), 20));
    clean_slate();
    if docker(&["image", "inspect", "localhost/web"]).code != 0 {
        import_web(&["docker"]).expect_exit(0);
    }
}

/// `web` running as root in the container (docker gives a non-root container user no ambient
/// set), serving.
fn web() {
    daemon(Daemon::Systemd);
    docker(&["run", "-d", "--name", "web", "--network=host", "--cap-add=all", "--tmpfs", "/run/app", "localhost/web"]).expect_exit(0);
    wait::must(120, "web serves", || serves(PORT), || docker(&["logs", "web"]).output());
}

fn running(name: &str) -> bool {
    docker(&["inspect", "--format", "{{.State.Running}}", name]).stdout.trim() == "true"
}

fn both() -> Vec<String> {
    vec!["CAP_CHOWN".into(), "CAP_NET_BIND_SERVICE".into()]
}

/// Trial containers, and docker scopes without a container (a cgroup capdisc made and left).
fn leftovers() -> (usize, usize) {
    let trials = docker(&["ps", "-a", "--format", "{{.Names}}"]).stdout.lines().filter(|name| name.starts_with("capdisc-")).count();
    let scopes = std::fs::read_dir("/sys/fs/cgroup/system.slice")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().strip_prefix("docker-")?.strip_suffix(".scope").map(str::to_owned))
        .filter(|id| docker(&["inspect", id]).code != 0)
        .count();
    (trials, scopes)
}

/// `record -o PATH -- docker run --rm ...` of the test image (as capdisc's arguments).
fn recorded_run(path: &str) -> Vec<&str> {
    vec!["record", "-o", path, "--duration", "90", "--", "docker", "run", "--rm", "--network=host", "--tmpfs", "/run/app", "localhost/web"]
}

fn sets_of(name: &str) -> String {
    capdisc_guest_tests::container::sets_of_pid(docker(&["inspect", "--format", "{{.State.Pid}}", name]).stdout.trim())
}

#[test]
fn d00_the_daemon_runs_web_in_its_scope() {
    guest!();
    web();
    let info = docker(&["info", "--format", "{{.CgroupDriver}} {{.Driver}}"]);
    expect::equal("the cgroup driver and storage", info.stdout.trim(), "systemd vfs");
    let pid = docker(&["inspect", "--format", "{{.State.Pid}}", "web"]).stdout.trim().to_owned();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let path = cgroup.lines().find_map(|line| line.strip_prefix("0::")).unwrap_or_default();
    let ok = path
        .strip_prefix("/system.slice/docker-")
        .and_then(|rest| rest.strip_suffix(".scope"))
        .is_some_and(|id| id.chars().all(|c| c.is_ascii_hexdigit()));
    expect::that(ok, "/system.slice/docker-ID.scope", path);
}

#[test]
fn d01_attached_a_docker_exec_chown_is_the_need_and_runcs_join_setup() {
    guest!();
    web();
    let recorder =
        Started::recording(&["record", "--container", "web", "--runtime", "docker", "-o", "/tmp/d1.yaml", "--duration", "40"], "d1");
    docker(&["exec", "web", "/workload", "chown", "/tmp", "65534"]).expect_exit(0);
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("required", &classed("/tmp/d1.yaml", Class::Required), &vec!["CAP_CHOWN".to_owned()]);
    let setup = classed("/tmp/d1.yaml", Class::Setup);
    expect::that(!setup.is_empty(), "runc's joining recorded as set-up", &setup);
}

#[test]
fn d02_from_its_start_and_no_proof_without_a_run_command() {
    guest!();
    web();
    let recorder = Started::recording(
        &["record", "--container", "web", "--runtime", "docker", "--restart", "-o", "/tmp/d2.yaml", "--duration", "60"],
        "d2",
    );
    wait::must(120, "web serves again", || serves(PORT), || recorder.output());
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("required", &classed("/tmp/d2.yaml", Class::Required), &both());
    expect::that(running("web"), "web runs on", docker(&["ps", "-a"]).output());
    // docker keeps no create command: a proof of a named container needs its run command.
    let _ = std::fs::remove_file("/tmp/d2m.yaml");
    capdisc(&["minimize", "--container", "web", "--runtime", "docker", "--check", CHECK, "-o", "/tmp/d2m.yaml"])
        .expect_exit(2)
        .expect_says("docker keeps no record of the command that created container web");
    expect::that(!Path::new("/tmp/d2m.yaml").exists(), "nothing written", "/tmp/d2m.yaml");
}

/// The proof of a run command: each trial created, its scope made, started, removed.
fn run_proof(name: &str, path: &str) -> Vec<String> {
    let mut args = vec!["minimize", "--check", CHECK, "--timeout", "45", "-o", path, "--"];
    args.extend(["docker", "run", "-d", "--name", name, "--network=host", "--tmpfs", "/run/app", "localhost/web"]);
    args.into_iter().map(str::to_owned).collect()
}

#[test]
fn d03_a_run_command_is_proven_and_its_flags_hold_exactly_that() {
    guest!();
    daemon(Daemon::Systemd);
    let args = run_proof("webm", "/tmp/d3.yaml");
    let proof = capdisc(&args.iter().map(String::as_str).collect::<Vec<_>>());
    proof.expect_exit(0).expect_says("denied CAP_CHOWN in chown /run/app (EPERM");
    expect::equal("proven", &generated("/tmp/d3.yaml"), &both());
    expect::equal("trial containers and orphan scopes", &leftovers(), &(0, 0));
    clean_slate();
    let generated = capdisc(&["generate", "/tmp/d3.yaml", "--format", "docker"]);
    generated.expect_exit(0);
    let flags: Vec<&str> = generated.stdout.lines().filter(|line| !line.starts_with('#')).flat_map(str::split_whitespace).collect();
    expect::equal("flags", flags.join(" ").as_str(), "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE");
    let mut run_args = vec!["run", "-d", "--name", "webf", "--network=host"];
    run_args.extend(&flags);
    run_args.extend(["--tmpfs", "/run/app", "localhost/web"]);
    docker(&run_args).expect_exit(0);
    wait::must(120, "webf serves", || serves(PORT), || docker(&["logs", "webf"]).output());
    expect::equal("webf's effective, bounding, ambient", sets_of("webf").as_str(), "0000000000000401 0000000000000401 0000000000000000");
    clean_slate();
    // What docker gives a non-root container user with the same flags: no capability.
    let mut user_args = vec!["run", "-d", "--name", "webu", "--network=host", "--user", "65534:65534"];
    user_args.extend(&flags);
    user_args.extend(["localhost/web", "/workload", "wait-for", "/never", "noop"]);
    docker(&user_args).expect_exit(0);
    wait::must(60, "webu running", || running("webu"), || docker(&["ps", "-a"]).output());
    expect::equal("webu's effective, bounding, ambient", sets_of("webu").as_str(), "0000000000000000 0000000000000401 0000000000000000");
    clean_slate();
}

#[test]
fn d06_killed_mid_proof_the_guardian_removes_the_trial_and_its_scope() {
    guest!();
    daemon(Daemon::Systemd);
    let _ = std::fs::remove_file("/tmp/d6.yaml");
    let args = run_proof("webk", "/tmp/d6.yaml");
    let prover = Started::new("capdisc", &args.iter().map(String::as_str).collect::<Vec<_>>(), "d6");
    let trial_runs = || docker(&["ps", "--format", "{{.Names}}"]).stdout.lines().any(|name| name.starts_with("capdisc-"));
    wait::must(180, "a trial container running", trial_runs, || prover.output());
    prover.signal(libc::SIGKILL);
    prover.wait();
    wait::must(60, "no trial container left", || leftovers().0 == 0, || docker(&["ps", "-a"]).output());
    expect::equal("trial containers and orphan scopes", &leftovers(), &(0, 0));
    expect::that(!Path::new("/tmp/d6.yaml").exists(), "nothing written", "/tmp/d6.yaml");
    clean_slate();
}

#[test]
fn d07_cgroupfs_driver_a_run_is_recorded_in_its_cgroup_parent() {
    guest!();
    daemon(Daemon::Cgroupfs);
    expect::equal("the cgroup driver", docker(&["info", "--format", "{{.CgroupDriver}}"]).stdout.trim(), "cgroupfs");
    let recorder = Started::new("capdisc", &recorded_run("/tmp/d7.yaml"), "d7");
    wait::must(120, "the run serves", || serves(PORT), || recorder.output());
    recorder.signal(libc::SIGINT);
    let recorded = recorder.wait();
    recorded.expect_exit(0);
    expect::equal("required", &classed("/tmp/d7.yaml", Class::Required), &both());
    let named = recorded.output().lines().any(|line| {
        line.strip_prefix("capdisc: recording container run: ")
            .and_then(|rest| rest.rsplit_once(" (cgroup /ops/"))
            .and_then(|(_, id)| id.strip_suffix(')'))
            .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()))
    });
    expect::that(named, "capdisc: recording container run: ... (cgroup /ops/ID)", recorded.output());
    wait::must(60, "--rm removed it", || docker(&["ps", "-aq"]).stdout.trim().is_empty(), || docker(&["ps", "-a"]).output());
}

#[test]
fn d08_a_cgroup_parent_capdisc_cannot_read_stops_with_one_line() {
    guest!();
    daemon(Daemon::Elsewhere);
    let _ = std::fs::remove_file("/tmp/d8.yaml");
    let mut args = vec!["120", "capdisc"];
    args.extend(recorded_run("/tmp/d8.yaml"));
    let recorded = run("timeout", &args);
    recorded.expect_exit(2);
    let says = recorded.output().lines().any(|line| {
        line.starts_with("capdisc: error: docker started the container in /elsewhere/")
            && line.contains(", not in /docker/")
            && line.contains(" where capdisc records it")
    });
    expect::that(
        says,
        "capdisc: error: docker started the container in /elsewhere/ID, not in /docker/ID where capdisc records it",
        recorded.output(),
    );
    expect::that(!Path::new("/tmp/d8.yaml").exists(), "nothing written", "/tmp/d8.yaml");
    wait::must(60, "no container left", || docker(&["ps", "-aq"]).stdout.trim().is_empty(), || docker(&["ps", "-a"]).output());
}

#[test]
fn d09_dockers_own_help_gives_the_switches_capdisc_reads_its_run_commands_by() {
    guest!();
    let help = docker(&["run", "--help"]);
    help.expect_exit(0);
    capdisc_guest_tests::container::expect_runtime_switches(capdisc::container::Switches::from_help(&help.stdout).as_ref(), &help.stdout);
}

#[test]
fn d10_a_run_commands_seccomp_profile_and_read_only_root_are_proven_with_docker_and_run_by_it() {
    guest!();
    daemon(Daemon::Systemd);
    let mut args = run_proof("webs", "/tmp/d10.yaml");
    let at = args.iter().position(|arg| arg == "--").unwrap_or(args.len());
    args.insert(at, "--sandbox".into());
    let proof = capdisc(&args.iter().map(String::as_str).collect::<Vec<_>>());
    proof.expect_exit(0);
    let trial_lines: Vec<&str> = proof
        .stdout
        .lines()
        .filter(|line| line.starts_with("sandboxing trial") || line.starts_with("  seccomp: ") || line.starts_with("  refused: "))
        .collect();
    capdisc_guest_tests::report(&trial_lines.join("\n"));
    expect::equal("trial containers and orphan scopes", &leftovers(), &(0, 0));
    let verification = capdisc_guest_tests::profile("/tmp/d10.yaml").verification.expect("a proof");
    let kept = |key: &str| {
        verification.container_sandbox.iter().find(|setting| setting.setting == key && setting.verdict == capdisc::profile::Decision::Kept)
    };
    let calls = kept("seccomp").map(|setting| setting.values.clone()).unwrap_or_default();
    capdisc_guest_tests::report(&format!(
        "docker web: seccomp allow-list of {} call(s); read-only {}; {} sandboxing trial(s): {}",
        calls.len(),
        kept("read-only").is_some(),
        verification.sandbox_trials.len(),
        calls.join(" ")
    ));
    // runc's own stages are set-up, not the container's calls.
    expect::that(
        !["mount", "pivot_root", "unshare", "setns"].iter().any(|call| calls.iter().any(|kept| kept == call)),
        "none of runc's set-up calls in the allow-list",
        &calls,
    );
    clean_slate();
    capdisc(&["generate", "/tmp/d10.yaml", "--format", "seccomp", "-o", "/tmp/d10.seccomp.json"]).expect_exit(0);
    let generated = capdisc(&["generate", "/tmp/d10.yaml", "--format", "docker"]);
    generated.expect_exit(0);
    let flags: Vec<&str> = generated.stdout.lines().filter(|line| !line.starts_with('#')).flat_map(str::split_whitespace).collect();
    expect::equal(
        "flags",
        flags.join(" ").as_str(),
        "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE --security-opt=no-new-privileges --security-opt=seccomp=/tmp/d10.seccomp.json --read-only",
    );
    let mut run_args = vec!["run", "-d", "--name", "webf", "--network=host"];
    run_args.extend(&flags);
    run_args.extend(["--tmpfs", "/run/app", "localhost/web"]);
    docker(&run_args).expect_exit(0);
    wait::must(120, "webf serves under the proven profile and read-only root", || serves(PORT), || docker(&["logs", "webf"]).output());
    let pid = docker(&["inspect", "--format", "{{.State.Pid}}", "webf"]).stdout.trim().to_owned();
    let seccomp = capdisc_guest_tests::container::caps_of(&pid, "Seccomp");
    let read_only = docker(&["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", "webf"]).stdout.trim().to_owned();
    clean_slate();
    expect::equal("seccomp mode of webf's process (2: a filter)", seccomp.as_str(), "2");
    expect::equal("read-only root", read_only.as_str(), "true");
}
