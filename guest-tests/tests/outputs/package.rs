//! capdisc's Debian package (`cargo xtask deb`) installed, used and removed as a user would:
//! dpkg, man, completions, the watch service enabled and serving, then apt remove and purge.
use std::path::Path;

use capdisc_guest_tests::{
    command::{run, sh},
    container::caps_of,
    expect, guest, unit, wait,
};

const WATCH: &str = "capdisc-watch.service";

/// What a removed package may have left: the binary, a running watch, its unit, runtime files,
/// capdisc's drop-ins, the man page.
fn left() -> Vec<String> {
    let mut found = Vec::new();
    for path in [
        "/usr/bin/capdisc",
        "/lib/systemd/system/capdisc-watch.service",
        "/usr/lib/systemd/system/capdisc-watch.service",
        "/run/capdisc",
        "/usr/share/man/man1/capdisc.1.gz",
        "/usr/share/man/man1/capdisc.1",
    ] {
        if Path::new(path).exists() {
            found.push(path.to_owned());
        }
    }
    if unit::is_active(WATCH) {
        found.push("capdisc-watch.service running".into());
    }
    let dropins = sh("ls -d /run/systemd/system/*.d/zz-capdisc-* /etc/systemd/system/*.d/*capdisc* 2>/dev/null");
    found.extend(dropins.stdout.lines().map(str::to_owned));
    found
}

#[test]
fn p01_installed_used_removed_and_purged() {
    guest!();
    run("dpkg", &["-i", "/root/capdisc.deb"]).expect_exit(0);
    let version = run("/usr/bin/capdisc", &["--version"]);
    expect::that(version.stdout.starts_with("capdisc "), "capdisc --version says capdisc", version.output());
    run("man", &["-P", "cat", "capdisc"]).expect_says("schema_version");
    run("man", &["-P", "cat", "capdisc-minimize"]).expect_says("--container");
    run("bash", &["-c", ". /usr/share/bash-completion/completions/capdisc && complete -p capdisc"]).expect_exit(0);
    for completion in ["/usr/share/zsh/vendor-completions/_capdisc", "/usr/share/fish/vendor_completions.d/capdisc.fish"] {
        expect::that(std::fs::metadata(completion).is_ok_and(|meta| meta.len() > 0), "the completion installed", completion);
    }
    expect::equal("capdisc-watch.service installed, not enabled", unit::systemctl(&["is-enabled", WATCH]).stdout.trim(), "disabled");
    unit::systemctl(&["enable", "--now", WATCH]).expect_exit(0);
    let metrics = || {
        run("curl", &["-fsS", "--max-time", "3", "http://127.0.0.1:9733/metrics"]).stdout.lines().any(|line| line.starts_with("capdisc_"))
    };
    wait::must(180, "/metrics served", metrics, || unit::tail(&unit::journal(WATCH), 10));
    let pid = unit::main_pid(WATCH).map(|pid| pid.to_string()).unwrap_or_default();
    // CAP_BPF, CAP_PERFMON, CAP_SYSLOG: the unit's declared CapabilityBoundingSet=.
    let declared = format!("{:016x}", (1u64 << 39) | (1 << 38) | (1 << 34));
    expect::equal("the watch's bounding set", caps_of(&pid, "CapBnd").as_str(), declared.as_str());
    // What a capdisc run leaves under /run while it works (a unit lock, as a restart takes one).
    std::fs::create_dir_all("/run/capdisc/locks").expect("/run/capdisc/locks");
    run("apt-get", &["remove", "-y", "capdisc"]).expect_exit(0);
    expect::equal("left after apt remove", &left(), &Vec::<String>::new());
    run("apt-get", &["purge", "-y", "capdisc"]).expect_exit(0);
    let mut after_purge = left();
    for path in [
        "/var/lib/capdisc",
        "/etc/systemd/system/capdisc-watch.service",
        "/etc/systemd/system/multi-user.target.wants/capdisc-watch.service",
    ] {
        if Path::new(path).exists() || Path::new(path).is_symlink() {
            after_purge.push(path.to_owned());
        }
    }
    expect::equal("left after apt purge", &after_purge, &Vec::<String>::new());
}
