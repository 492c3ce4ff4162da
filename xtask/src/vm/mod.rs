//! `cargo xtask vm`: proves the fexit and kprobe backends on real kernels. It boots Debian's
//! 6.1 and 6.12 cloud kernels under QEMU (TCG: nested KVM does not work here) with an
//! initramfs holding busybox, the static capdisc and the workloads; in each guest every backend
//! records the same workloads as on the host, and each must find the same required set as the
//! host's own backend, and `trace --denied` must explain a denied bind. Then the story end to
//! end in a Debian guest with systemd as PID 1 (`systemd_guest`, `story`). Kernels and images
//! are cached under target/vm; serial logs are kept there.
mod containers;
mod initramfs;
mod kernel;
mod qemu;
mod scenario;
mod story;
mod systemd_guest;

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::{build, run::workspace, setup};
use kernel::Source;
use scenario::{Outcome, BACKENDS, WORKLOADS};

/// Debian kernel packages to boot (newest matching each pattern): bookworm's 6.1 and 6.12 (fexit
/// and kprobe, no tracepoint), and trixie-backports' 6.19, where all five backends meet (its
/// vmlinuz is in the linux-binary package).
const KERNELS: [(&str, Source); 3] = [
    (r"^linux-image-6\.1\.0-[0-9]+-cloud-amd64$", Source::System),
    (r"^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$", Source::System),
    (r"^linux-binary-6\.19\.[0-9]+\+deb13-cloud-amd64$", Source::Suite("trixie-backports")),
];

/// What `cargo xtask vm` runs (the test suite runs everything; the rest is for working on one part).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Everything,
    /// The systemd guest's story (with its container steps).
    Story,
    /// The container steps: the story guest's alone, and the container outputs' guest.
    Containers,
    /// The container outputs' guest.
    Outputs,
}

/// Boots every kernel; returns the comparisons made (one per backend and kernel) as a tally.
pub fn vm(only: Only) -> Result<crate::tally::Tally> {
    setup::apt_install(&["qemu-system-x86".into(), "busybox-static".into(), "xz-utils".into()])?;
    let binaries = build::static_binaries()?;
    let dir = workspace().join("target/vm");
    std::fs::create_dir_all(&dir)?;
    if only != Only::Everything {
        let mut failures = Vec::new();
        let story_kernel = kernel::fetch(KERNELS[1].0, KERNELS[1].1, &dir.join("kernels"))?;
        let mut compared = 0;
        if only != Only::Outputs {
            compared += story(&dir, &binaries, &story_kernel, only == Only::Containers, &mut failures)?;
        }
        if only != Only::Story {
            compared += outputs(&dir, &binaries, &story_kernel, &mut failures)?;
        }
        return Ok(crate::tally::Tally { passed: compared - failures.len() as u64, failed: failures.len() as u64 });
    }

    eprintln!("xtask: vm: recording the workloads on the host kernel");
    let host = scenario::run_on_host(&binaries)?;
    let host_kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")?.trim().to_owned();

    let image = initramfs::build(&binaries, &dir.join("initramfs.cpio"), &scenario::guest_script())?;
    let mut columns: Vec<(String, BTreeMap<String, Outcome>)> = Vec::new();
    let mut failures = Vec::new();
    for (pattern, source) in KERNELS {
        let kernel = kernel::fetch(pattern, source, &dir.join("kernels"))?;
        eprintln!("xtask: vm: booting {} under QEMU (TCG)", kernel.release);
        let log = dir.join(format!("{}.log", kernel.release));
        let serial = qemu::boot(&kernel.vmlinuz, &image, &log)?;
        let results = scenario::parse_guest(&serial);
        if results.is_empty() {
            bail!("the {} guest produced no results; serial log kept at {}", kernel.release, log.display());
        }
        let mut outcomes = scenario::judge(&results, &host, &mut failures, &kernel.release);
        scenario::judge_traces(&serial, &kernel.release, &mut outcomes, &mut failures);
        scenario::judge_watch(&serial, &kernel.release, &mut outcomes, &mut failures);
        scenario::judge_sandbox(&serial, &kernel.release, &mut outcomes, &mut failures);
        columns.push((kernel.release.clone(), outcomes));
    }
    columns.push((format!("{host_kernel} (host)"), scenario::host_column(&host)));
    println!("{}", table(&columns));
    let mut compared = columns.iter().map(|(_, outcomes)| outcomes.len() as u64).sum::<u64>();

    let story_kernel = kernel::fetch(KERNELS[1].0, KERNELS[1].1, &dir.join("kernels"))?;
    compared += story(&dir, &binaries, &story_kernel, false, &mut failures)?;
    compared += outputs(&dir, &binaries, &story_kernel, &mut failures)?;
    if !failures.is_empty() {
        eprintln!("xtask: vm: backends disagree with the host or are missing:\n{}", failures.join("\n"));
    }
    Ok(crate::tally::Tally { passed: compared - failures.len() as u64, failed: failures.len() as u64 })
}

/// The story end to end in a Debian guest with systemd as PID 1, then its container steps (or,
/// `containers_only`, just those); returns the checks made.
fn story(
    dir: &std::path::Path,
    binaries: &std::path::Path,
    kernel: &kernel::Kernel,
    containers_only: bool,
    failures: &mut Vec<String>,
) -> Result<u64> {
    setup::apt_install(&["debootstrap".into(), "cpio".into()])?;
    let image = systemd_guest::image(dir, binaries, &systemd_guest::STORY, None)?;
    eprintln!("xtask: vm: booting the systemd guest ({}) under QEMU (TCG)", kernel.release);
    let log = dir.join("systemd-guest.log");
    let only = if containers_only { " capdisc.only=containers" } else { "" };
    let append = format!("console=ttyS0 rdinit=/sbin/init panic=-1 loglevel=4{only}");
    let serial = qemu::boot_with(&kernel.vmlinuz, &image, &log, "2048", &append)?;
    let story = story::parse(&serial);
    println!("\nthe story in a systemd guest ({}):", kernel.release);
    let mut checks = if containers_only { Vec::new() } else { story.checks() };
    checks.extend(containers::checks(&serial));
    if !report_checks(&checks, "systemd guest", failures) {
        eprintln!("xtask: vm: story steps as reported:\n{}serial log kept at {}", story.steps_text(), log.display());
    }
    if !containers_only {
        println!("\nevery unit of the guest (record --all over boot and a short workload):\n{}", story.unit_table());
    }
    Ok(checks.len() as u64)
}

/// `generate`'s container outputs run by the tools that read them (podman 5, Quadlet,
/// podman-compose, `podman kube play`) in a trixie guest; returns the checks made.
fn outputs(dir: &std::path::Path, binaries: &std::path::Path, kernel: &kernel::Kernel, failures: &mut Vec<String>) -> Result<u64> {
    setup::apt_install(&["debootstrap".into(), "cpio".into()])?;
    let deb = crate::deb::deb()?;
    let tun = kernel.module("drivers/net/tun.ko.xz")?;
    let image = systemd_guest::image(dir, binaries, &systemd_guest::OUTPUTS, Some((&deb, &tun)))?;
    eprintln!("xtask: vm: booting the container outputs guest ({}) under QEMU (TCG)", kernel.release);
    let log = dir.join("outputs-guest.log");
    // 3 GB: the initramfs (about 650 MB with docker) is unpacked into the guest's memory.
    let serial = qemu::boot_with(&kernel.vmlinuz, &image, &log, "3072", "console=ttyS0 rdinit=/sbin/init panic=-1 loglevel=4")?;
    println!("\ncontainer outputs, run by their tools ({}):", kernel.release);
    let mut checks = containers::output_checks(&serial);
    checks.extend(containers::docker_checks(&serial));
    checks.extend(containers::rootless_checks(&serial));
    checks.extend(containers::package_checks(&serial));
    if !report_checks(&checks, "outputs guest", failures) {
        eprintln!("xtask: vm: serial log kept at {}", log.display());
    }
    Ok(checks.len() as u64)
}

/// Prints each (what, passed) check and adds the failed ones, labelled with `guest`, to
/// `failures`; whether every check passed.
fn report_checks(checks: &[(String, bool)], guest: &str, failures: &mut Vec<String>) -> bool {
    for (what, passed) in checks {
        println!("  [{}] {what}", if *passed { "ok" } else { "FAILED" });
        if !passed {
            failures.push(format!("{guest}: {what}"));
        }
    }
    checks.iter().all(|(_, passed)| *passed)
}

fn table(columns: &[(String, BTreeMap<String, Outcome>)]) -> String {
    let mut out = format!("{:<13}", "backend");
    for (kernel, _) in columns {
        out.push_str(&format!(" | {kernel:<34}"));
    }
    for backend in BACKENDS.iter().copied().chain(["trace/fexit", "trace/kprobe", "trace/sandbox", "watch/mkdir"]) {
        out.push_str(&format!("\n{backend:<13}"));
        for (_, outcomes) in columns {
            let cell = outcomes.get(backend).map(Outcome::describe).unwrap_or_else(|| "-".into());
            out.push_str(&format!(" | {cell:<34}"));
        }
    }
    out.push_str(&format!("\n(workloads: {})", WORKLOADS.iter().map(|w| w.name).collect::<Vec<_>>().join(", ")));
    out
}
