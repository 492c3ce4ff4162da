//! `cargo xtask test`: the whole suite. Formatting and lints first (`cargo fmt --check`,
//! `cargo clippy -D warnings`), then unit tests, the integration tests that load the real probes
//! on this kernel (as root), a fuzz smoke run of every parser, then the backends on other kernels
//! and the systemd story under QEMU.
use std::{
    io::{BufRead, BufReader},
    process::Stdio,
};

use anyhow::{bail, Context, Result};

use crate::{
    fuzz,
    run::{cargo, run, show},
    setup,
    tally::Tally,
    vm,
};

/// Seconds per fuzz target in the suite's smoke run.
const FUZZ_SMOKE_SECONDS: u64 = 15;

pub fn test(with_vm: bool) -> Result<()> {
    if effective_uid() != 0 {
        bail!("the tests load eBPF programs: run `cargo xtask test` as root");
    }
    if !setup::ready() {
        setup::setup()?;
    }
    style()?;
    // Integration tests bind port 443 and count storms: one test binary at a time, two
    // threads, so workloads do not contend for the two cores.
    let mut tally = cargo_test()?;
    // The fuzz smoke run: every parser, its committed regression inputs replayed, then a short
    // search (`cargo xtask fuzz --seconds N` searches longer).
    match fuzz::fuzz(FUZZ_SMOKE_SECONDS) {
        Ok(()) => tally.passed += fuzz::TARGETS.len() as u64,
        Err(err) => {
            eprintln!("xtask: fuzz smoke run failed: {err:#}");
            tally.failed += 1;
        }
    }
    if with_vm {
        let vm = vm::vm(vm::Only::Everything, &[])?;
        tally.passed += vm.passed;
        tally.failed += vm.failed;
    }
    // The suite's closing line, counted over the cargo tests and the VM comparisons.
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 {
        bail!("{} test(s) failed", tally.failed);
    }
    Ok(())
}

/// Formatting and lints, as decided once in rustfmt.toml and [workspace.lints].
fn style() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run(&mut fmt).context("the code is not formatted: run `cargo fmt --all`")?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--exclude", "capdisc-ebpf", "--all-targets", "--", "-D", "warnings"]);
    run(&mut clippy).context("clippy found problems (see above)")
}

/// `cargo test` over the workspace, its output passed through and its results counted.
fn cargo_test() -> Result<Tally> {
    let mut command = cargo();
    command.args([
        "test",
        "--workspace",
        "--exclude",
        "capdisc-ebpf",
        "--exclude",
        "capdisc-guest-tests",
        "--no-fail-fast",
        "--",
        "--test-threads=2",
    ]);
    eprintln!("xtask: $ {}", show(&command));
    let mut child = command.stdout(Stdio::piped()).spawn().context("cannot run cargo test")?;
    let mut tally = Tally::default();
    for line in BufReader::new(child.stdout.take().context("no stdout")?).lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |word: &str| {
                rest.split(';').find_map(|part| part.trim().strip_suffix(word)?.trim().rsplit(' ').next()?.parse::<u64>().ok()).unwrap_or(0)
            };
            tally.passed += count(" passed");
            tally.failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() && tally.failed == 0 {
        bail!("cargo test failed ({status}) before running its tests");
    }
    Ok(tally)
}

fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find_map(|line| line.strip_prefix("Uid:")?.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(u32::MAX)
}
