//! Containers as the guest tests use them: the test image (made offline, nothing pulled), the
//! container `web` running it, whether it serves, a process's capability sets, what capdisc
//! left behind, and what `generate` grants from a profile.
use std::{net::TcpStream, time::Duration};

use capdisc::kernel::procfs;

use crate::command::{capdisc, run, Run};
use crate::wait;

/// The image's service port.
pub const PORT: u16 = 604;
/// The check the proofs run: a TCP connect to the service (it accepts and closes).
pub const CHECK: &str = "bash -c \": < /dev/tcp/127.0.0.1/604\"";

/// `podman ARGS`.
pub fn podman(args: &[&str]) -> Run {
    run("podman", args)
}

/// Whether the image's service accepts a connection on `port`.
pub fn serves(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(3)).is_ok()
}

/// Makes the test image and imports it as localhost/web with `engine` (`["podman"]`,
/// `["docker"]`, or a user's podman behind `runuser ...`):
/// one static binary (capdisc's test workload) whose start takes a fresh runtime directory (a
/// tmpfs, root's) for the container's user (CAP_CHOWN, every start) and serves :604 as that user
/// (CAP_NET_BIND_SERVICE).
pub fn import_web(engine: &[&str]) -> Run {
    let root = "/tmp/capdisc-web-image";
    let _ = std::fs::remove_dir_all(root);
    for dir in ["tmp", "etc", "run/app"] {
        std::fs::create_dir_all(format!("{root}/{dir}")).expect("the image's tree");
    }
    // The image's / as usual (a 0700 root would make the container's user need
    // CAP_DAC_READ_SEARCH to reach /workload: a proof finds exactly that).
    run("chmod", &["755", root]).expect_exit(0);
    std::fs::copy("/usr/local/bin/capdisc-workload", format!("{root}/workload")).expect("the workload in the image");
    std::fs::write(format!("{root}/etc/passwd"), "root:x:0:0:root:/:/workload\nnobody:x:65534:65534:nobody:/:/workload\n").expect("passwd");
    std::fs::write(format!("{root}/etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    run("tar", &["-C", root, "-cf", "/tmp/capdisc-web-image.tar", "."]).expect_exit(0);
    let mut import = engine[1..].to_vec();
    import.extend([
        "import",
        "--change",
        "CMD [\"/workload\", \"chown-then-serve\", \"/run/app\", \"65534\", \"604\"]",
        "/tmp/capdisc-web-image.tar",
        "localhost/web",
    ]);
    let imported = run(engine[0], &import);
    let _ = std::fs::remove_dir_all(root);
    let _ = std::fs::remove_file("/tmp/capdisc-web-image.tar");
    imported
}

/// Whether podman's container `name` runs.
pub fn running(name: &str) -> bool {
    podman(&["inspect", "--format", "{{.State.Running}}", name]).stdout.trim() == "true"
}

/// The production container `web` of the story guest, hardened the usual way (every
/// capability, as nobody), running and serving; made (and its image imported) if it is not.
pub fn web_serving() {
    if podman(&["image", "exists", "localhost/web"]).code != 0 {
        import_web(&["podman"]).expect_exit(0);
    }
    if podman(&["container", "exists", "web"]).code != 0 {
        podman(&[
            "run",
            "-d",
            "-q",
            "--name",
            "web",
            "--network=host",
            "--user",
            "65534:65534",
            "--cap-add=all",
            "--tmpfs",
            "/run/app",
            "localhost/web",
        ])
        .expect_exit(0);
    } else if !running("web") {
        podman(&["start", "web"]).expect_exit(0);
    }
    wait::must(120, "web serves :604", || serves(PORT), || podman(&["logs", "web"]).output());
}

/// A line of `/proc/PID/status` (`CapEff`...).
/// (read with capdisc's own parser, `kernel::procfs`; "" when there is no such process).
pub fn caps_of(pid: &str, field: &str) -> String {
    let Ok(pid) = pid.parse() else { return String::new() };
    let status = procfs::status(procfs::Proc::Pid(pid)).unwrap_or_default();
    procfs::status_field(&status, field).to_owned()
}

/// A process's effective, bounding and ambient sets, as one line.
pub fn sets_of_pid(pid: &str) -> String {
    format!("{} {} {}", caps_of(pid, "CapEff"), caps_of(pid, "CapBnd"), caps_of(pid, "CapAmb"))
}

/// A container's first process's effective, bounding and ambient sets.
pub fn sets_of(container: &str) -> String {
    sets_of_pid(podman(&["inspect", "--format", "{{.State.Pid}}", container]).stdout.trim())
}

/// capdisc's trial containers and trial cgroups left (both 0 after any proof).
pub fn leftovers() -> (usize, usize) {
    let containers = podman(&["ps", "-a", "--format", "{{.Names}}"]).stdout.lines().filter(|name| name.starts_with("capdisc-")).count();
    let cgroups = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("capdisc-"))
        .count();
    (containers, cgroups)
}

/// What `generate` grants from a profile (its JSON's `required` list), sorted.
pub fn generated(profile: &str) -> Vec<String> {
    let generated = capdisc(&["generate", profile, "--format", "json"]);
    generated.expect_exit(0);
    let json: serde_json::Value =
        serde_json::from_str(&generated.stdout).unwrap_or_else(|err| panic!("generate --format json: {err}\n{}", generated.output()));
    let mut names: Vec<String> =
        json["required"].as_array().into_iter().flatten().filter_map(|name| name.as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

/// Whether some line of `text` has each of `parts`, in that order.
pub fn line_has_in_order(text: &str, parts: &[&str]) -> bool {
    text.lines().any(|line| {
        let mut rest = line;
        parts.iter().all(|part| match rest.find(part) {
            Some(at) => {
                rest = &rest[at + part.len()..];
                true
            }
            None => false,
        })
    })
}

/// No container of root's podman or of a running docker daemon: each test starts from there
/// (a failed test may leave one serving :604).
pub fn clean_slate() {
    podman(&["rm", "-af", "-t", "2"]);
    if run("systemctl", &["is-active", "-q", "docker.service"]).code == 0 {
        let all = run("docker", &["ps", "-aq"]).stdout;
        let ids: Vec<&str> = all.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            run("docker", &args);
        }
    }
    wait::must(60, "nothing serves :604", || !serves(PORT), || podman(&["ps", "-a"]).output());
}

/// Panics unless `switches` (read from a runtime's own `run --help`) hold the switches every
/// podman and docker has, and none of the options that take a value.
pub fn expect_runtime_switches(switches: Option<&capdisc::container::Switches>, help: &str) {
    let Some(switches) = switches else { panic!("expected: the switches of a run --help\ncame: {help}") };
    for switch in ["detach", "interactive", "tty", "rm", "init", "publish-all", "privileged", "read-only"] {
        crate::expect::that(switches.long(switch), &format!("--{switch} takes no value"), help);
    }
    for valued in ["name", "env", "volume", "user", "network", "cap-add", "cap-drop", "tmpfs", "publish"] {
        crate::expect::that(!switches.long(valued), &format!("--{valued} takes a value"), help);
    }
    for flag in ['d', 'i', 't', 'P'] {
        crate::expect::that(switches.short(flag), &format!("-{flag} takes no value"), help);
    }
    crate::expect::that(!switches.short('e') && !switches.short('v') && !switches.short('u'), "-e, -v, -u take a value", help);
}
