//! `generate`'s container outputs run by the tools that read them (podman 5 with Quadlet,
//! podman-compose, `podman kube play`): each starts the service, which serves and holds exactly
//! the proven set.
use std::sync::OnceLock;

use capdisc::classify::Class;
use capdisc_guest_tests::{
    classed,
    command::{capdisc, run, Run, Started},
    container::{clean_slate, generated, podman, serves, sets_of, web_serving, CHECK, PORT},
    expect, guest, unit, wait,
};

const BOTH: [&str; 2] = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"];
const PROOF: &str = "/tmp/p.yaml";

/// web's proof under podman 5 (what each format is generated from).
fn proof() -> &'static Run {
    static PROVEN: OnceLock<Run> = OnceLock::new();
    PROVEN.get_or_init(|| {
        clean_slate();
        web_serving();
        let proven = capdisc(&["minimize", "--container", "web", "--check", CHECK, "--timeout", "45", "-o", PROOF]);
        podman(&["rm", "-f", "-t", "2", "web"]);
        proven
    })
}

/// The proven set as the kernel shows it in /proc/PID/status: effective, bounding, ambient.
fn proven_sets() -> String {
    let mask = generated(PROOF).iter().filter_map(|name| capdisc::caps::number(name)).fold(0u64, |mask, number| mask | 1 << number);
    format!("{mask:016x} {mask:016x} {mask:016x}")
}

/// The container `name` that a tool started serves and holds exactly the proven set.
fn expect_started(name: &str) {
    wait::must(120, "the service serves :604", || serves(PORT), || podman(&["ps", "-a"]).output());
    expect::equal(&format!("{name}'s effective, bounding, ambient sets"), sets_of(name).as_str(), proven_sets().as_str());
}

#[test]
fn f01_minimize_under_podman_5_proves_exactly_chown_and_bind() {
    guest!();
    proof().expect_exit(0);
    expect::equal("proven", &generated(PROOF), &BOTH.map(String::from).to_vec());
}

#[test]
fn f02_record_from_its_start_under_podman_5() {
    guest!();
    clean_slate();
    web_serving();
    let recorder = Started::recording(&["record", "--container", "web", "--restart", "--duration", "60", "-o", "/tmp/r.yaml"], "f02");
    wait::must(120, "web serves again", || serves(PORT), || recorder.output());
    recorder.signal(libc::SIGINT);
    recorder.wait().expect_exit(0);
    expect::equal("required", &classed("/tmp/r.yaml", Class::Required), &BOTH.map(String::from).to_vec());
}

#[test]
fn f03_compose_starts_it_with_exactly_the_proven_set() {
    guest!();
    proof().expect_exit(0);
    clean_slate();
    let fragment = capdisc(&["generate", PROOF, "--format", "compose"]);
    fragment.expect_exit(0);
    let mut compose =
        "services:\n  web:\n    image: localhost/web\n    network_mode: host\n    user: \"65534:65534\"\n    tmpfs: [/run/app]\n"
            .to_owned();
    for line in fragment.stdout.lines().filter(|line| !line.starts_with('#')) {
        compose.push_str(&format!("    {line}\n"));
    }
    std::fs::create_dir_all("/tmp/compose").expect("/tmp/compose");
    std::fs::write("/tmp/compose/compose.yaml", &compose).expect("compose.yaml");
    let up = run("sh", &["-c", "cd /tmp/compose && podman-compose up -d"]);
    up.expect_exit(0);
    let name = podman(&["ps", "--format", "{{.Names}}"]).stdout.lines().next().unwrap_or_default().to_owned();
    expect_started(&name);
    run("sh", &["-c", "cd /tmp/compose && podman-compose down -t 2"]);
}

#[test]
fn f04_quadlet_starts_it_with_exactly_the_proven_set() {
    guest!();
    proof().expect_exit(0);
    clean_slate();
    std::fs::create_dir_all("/etc/containers/systemd/webq.container.d").expect("the quadlet directory");
    std::fs::write(
        "/etc/containers/systemd/webq.container",
        "[Container]\nImage=localhost/web\nContainerName=webq\nNetwork=host\nUser=65534\nGroup=65534\nTmpfs=/run/app\n",
    )
    .expect("webq.container");
    let dropin = capdisc(&["generate", PROOF, "--format", "quadlet"]);
    dropin.expect_exit(0);
    std::fs::write("/etc/containers/systemd/webq.container.d/capdisc.conf", &dropin.stdout).expect("the quadlet drop-in");
    unit::systemctl(&["daemon-reload"]).expect_exit(0);
    unit::systemctl(&["start", "webq.service"]).expect_exit(0);
    expect_started("webq");
    unit::systemctl(&["stop", "webq.service"]);
}

#[test]
fn f05_kube_play_starts_it_with_exactly_the_proven_set() {
    guest!();
    proof().expect_exit(0);
    clean_slate();
    let context = capdisc(&["generate", PROOF, "--format", "k8s"]);
    context.expect_exit(0);
    let mut pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: webk\nspec:\n  hostNetwork: true\n  containers:\n  - name: web\n    image: localhost/web\n    volumeMounts:\n    - name: app\n      mountPath: /run/app\n".to_owned();
    for line in context.stdout.lines() {
        pod.push_str(&format!("    {line}\n"));
    }
    pod.push_str("      runAsUser: 65534\n      runAsGroup: 65534\n  volumes:\n  - name: app\n    emptyDir:\n      medium: Memory\n");
    std::fs::write("/tmp/pod.yaml", &pod).expect("pod.yaml");
    podman(&["kube", "play", "/tmp/pod.yaml"]).expect_exit(0);
    expect_started("webk-web");
    podman(&["kube", "down", "/tmp/pod.yaml"]);
}
