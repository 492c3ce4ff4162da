//! `cargo xtask vm`: proves the fexit and kprobe backends on real kernels. It boots Debian's
//! 6.1 and 6.12 cloud kernels under QEMU (TCG: nested KVM does not work here) with an
//! initramfs holding busybox, the static capdisc and the workloads; in each guest every backend
//! records the same workloads as on the host, and each must find the same required set as the
//! host's own backend, and `trace --denied` must explain a denied bind. Then the story end to
//! end in a Debian guest with systemd as PID 1 (`systemd_guest`, `story`). Kernels and images
//! are cached under target/vm; serial logs are kept there.
mod guest_tests;
mod initramfs;
mod kernel;
mod qemu;
mod scenario;
mod systemd_guest;

use std::{collections::BTreeMap, io::Write, path::Path};

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
/// `tests` selects guest tests by name (as `cargo test NAME` does; all when empty).
pub fn vm(only: Only, tests: &[String]) -> Result<crate::tally::Tally> {
    if only == Only::Everything && !tests.is_empty() {
        bail!("guest tests are selected by name within --story-only, --containers-only or --outputs-only");
    }
    setup::apt_install(&["qemu-system-x86".into(), "busybox-static".into(), "xz-utils".into()])?;
    let binaries = build::static_binaries()?;
    let dir = workspace().join("target/vm");
    std::fs::create_dir_all(&dir)?;
    if only != Only::Everything {
        let mut failures = Vec::new();
        let story_kernel = kernel::fetch(KERNELS[1].0, KERNELS[1].1, &dir.join("kernels"))?;
        let compared = systemd_guests(&dir, &binaries, &story_kernel, only, tests, &mut failures)?;
        if compared == 0 {
            bail!(
                "no guest test is named like {}; list them with `target/static/x86_64-unknown-linux-gnu/release/deps/SUITE-* --list`",
                tests.join(" or ")
            );
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
    compared += systemd_guests(&dir, &binaries, &story_kernel, Only::Everything, tests, &mut failures)?;
    if !failures.is_empty() {
        eprintln!("xtask: vm: backends disagree with the host or are missing:\n{}", failures.join("\n"));
    }
    Ok(crate::tally::Tally { passed: compared - failures.len() as u64, failed: failures.len() as u64 })
}

/// The systemd guests, two at a time (one vCPU each; this machine has two cores): the story's
/// guest with its container steps, and beside it the same image booted again for the whole
/// hardening of real daemons (`hardening`), then the container outputs' guest. `only` selects
/// among them; `tests` selects tests by name. Returns the tests run.
fn systemd_guests(
    dir: &Path,
    binaries: &Path,
    kernel: &kernel::Kernel,
    only: Only,
    tests: &[String],
    failures: &mut Vec<String>,
) -> Result<u64> {
    let suites: &[&str] = match only {
        Only::Everything => &["story", "containers", "hardening"],
        Only::Story => &["story", "containers", "hardening"],
        Only::Containers => &["containers"],
        Only::Outputs => &[],
    };
    let story = Booted {
        guest: &systemd_guest::STORY,
        deb: None,
        memory_mb: "2048",
        log: "systemd-guest.log",
        title: "the story in a systemd guest",
    };
    let hardening = Booted { log: "hardening-guest.log", title: "the whole hardening of real daemons, in a systemd guest", ..story };
    let prepared = if suites.is_empty() { None } else { story.prepare(dir, binaries, suites, tests)? };
    let nothing = || Prepared { image: std::path::PathBuf::new(), expected: Vec::new() };
    let (harden, rest) = match prepared {
        Some(prepared) => {
            let (harden, rest): (Vec<_>, Vec<_>) = prepared.expected.into_iter().partition(|(suite, _)| suite == "hardening");
            (Prepared { image: prepared.image.clone(), expected: harden }, Prepared { image: prepared.image, expected: rest })
        }
        None => (nothing(), nothing()),
    };
    let with_outputs = only != Only::Story;
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let (story_count, other_count) = std::thread::scope(|scope| {
        let beside = scope.spawn(|| -> Result<u64> {
            let mut count = 0;
            if !harden.expected.is_empty() {
                count += hardening.boot(kernel, &harden, tests, &mut second)?;
            }
            if with_outputs {
                count += outputs(dir, binaries, kernel, tests, &mut second)?;
            }
            Ok(count)
        });
        let mut count = 0;
        if !rest.expected.is_empty() {
            count += story.boot(kernel, &rest, tests, &mut first)?;
        }
        let other = beside.join().map_err(|_| anyhow::anyhow!("the guest beside the story's panicked"))??;
        Ok::<_, anyhow::Error>((count, other))
    })?;
    failures.extend(first);
    failures.extend(second);
    Ok(story_count + other_count)
}

/// `generate`'s container outputs run by the tools that read them (podman 5, Quadlet,
/// podman-compose, `podman kube play`), docker, rootless podman and the Debian package, in a
/// trixie guest; `tests` selects some by name. Returns the tests run.
fn outputs(dir: &Path, binaries: &Path, kernel: &kernel::Kernel, tests: &[String], failures: &mut Vec<String>) -> Result<u64> {
    let deb = crate::deb::deb()?;
    let tun = kernel.module("drivers/net/tun.ko.xz")?;
    // 3 GB: the initramfs (about 650 MB with docker) is unpacked into the guest's memory.
    let guest = Booted {
        guest: &systemd_guest::OUTPUTS,
        deb: Some((&deb, &tun)),
        memory_mb: "3072",
        log: "outputs-guest.log",
        title: "container outputs, run by their tools",
    };
    match guest.prepare(dir, binaries, &["outputs"], tests)? {
        Some(prepared) => guest.boot(kernel, &prepared, tests, failures),
        None => Ok(0),
    }
}

/// A guest's image with the tests it is to run: (suite, the tests selected) per suite.
struct Prepared {
    image: std::path::PathBuf,
    expected: Vec<(String, Vec<String>)>,
}

/// A systemd guest booted to run guest test suites.
#[derive(Clone, Copy)]
struct Booted<'a> {
    guest: &'a systemd_guest::Guest,
    /// The outputs guest's Debian package and tun module.
    deb: Option<(&'a Path, &'a [u8])>,
    memory_mb: &'a str,
    /// Its serial log's name under target/vm.
    log: &'a str,
    title: &'a str,
}

impl Booted<'_> {
    /// Its image with the test binaries of `suites`, and those of their tests `tests` select
    /// (all when empty); None when none is selected (the guest is not booted).
    fn prepare(&self, dir: &Path, binaries: &Path, suites: &[&str], tests: &[String]) -> Result<Option<Prepared>> {
        setup::apt_install(&["debootstrap".into(), "cpio".into()])?;
        let built: Vec<_> = build::guest_tests()?.into_iter().filter(|(suite, _)| suites.contains(&suite.as_str())).collect();
        let mut expected = Vec::new();
        for (suite, binary) in &built {
            let listed = guest_tests::listed(binary, tests)?;
            if !listed.is_empty() {
                expected.push((suite.clone(), listed));
            }
        }
        if expected.is_empty() {
            eprintln!(
                "xtask: vm: no test of {} is named like {}: the {} guest is not booted",
                suites.join(" or "),
                tests.join(" or "),
                self.guest.name
            );
            return Ok(None);
        }
        let image = systemd_guest::image(dir, binaries, self.guest, self.deb, &built)?;
        Ok(Some(Prepared { image, expected }))
    }

    /// Boots `prepared`'s image to run its suites' selected tests, and reports each; returns the
    /// tests run.
    fn boot(&self, kernel: &kernel::Kernel, prepared: &Prepared, tests: &[String], failures: &mut Vec<String>) -> Result<u64> {
        let dir = workspace().join("target/vm");
        eprintln!("xtask: vm: booting the {} guest ({}) under QEMU (TCG): {}", self.guest.name, kernel.release, self.title);
        let log = dir.join(self.log);
        let names: Vec<&str> = prepared.expected.iter().map(|(suite, _)| suite.as_str()).collect();
        // No boot status on the console: the guest's serial log is the tests' output.
        let mut append =
            format!("console=ttyS0 rdinit=/sbin/init panic=-1 loglevel=4 systemd.show_status=false capdisc.suites={}", names.join(","));
        if !tests.is_empty() {
            append.push_str(&format!(" capdisc.tests={}", tests.join(",")));
        }
        let serial = qemu::boot_with(&kernel.vmlinuz, &prepared.image, &log, self.memory_mb, &append)?;
        // One block per guest: the two guests beside each other do not mix their lines.
        let mut block = Vec::new();
        let mut passed = true;
        let mut count = 0;
        for (suite, listed) in &prepared.expected {
            let results = guest_tests::results(&serial, suite, listed);
            count += results.len() as u64;
            passed &= guest_tests::report(&results, self.guest.name, failures, &mut block);
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{} ({}):", self.title, kernel.release);
        let _ = out.write_all(&block);
        if !passed {
            eprintln!("xtask: vm: serial log kept at {}", log.display());
        }
        Ok(count)
    }
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
