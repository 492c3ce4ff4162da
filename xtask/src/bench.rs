//! `cargo xtask bench`: what recording costs the traced service, per capability check. A storm
//! of `kill(pid, 0)` on another uid's process (one CAP_KILL check per call) runs, alternating,
//! round after round:
//! - untraced (the baseline),
//! - under `capdisc record` (the workload is the target: filter, key, atomic add),
//! - while capdisc records another target (the cost a non-target process pays),
//! - under bpftrace `@[args->cap, args->ret] = count()` on the same tracepoint (the best-case
//!   peer: a plain in-kernel count, no filter, no syscall, no call sites).
//!
//! The workload times its own loop; medians per check and ratios to untraced are printed.
//! A benchmark, not a test: nothing here asserts a time.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use anyhow::{bail, Context, Result};

use crate::{build, run::output, setup};

const PEER_PROGRAM: &str = "tracepoint:capability:cap_capable { @[args->cap, args->ret] = count(); }";

pub fn bench(checks: u64, rounds: u32) -> Result<()> {
    if !setup::ready() {
        setup::setup()?;
    }
    setup::apt_install(&["bpftrace".into()])?;
    let release = build::release()?;
    let capdisc = release.join("capdisc");
    let workload = release.join("examples/workload");
    let modes = ["untraced", "capdisc", "capdisc-other", "bpftrace"];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 1..=rounds {
        for (index, mode) in modes.iter().enumerate() {
            let ns = match *mode {
                "untraced" => storm(Command::new(&workload).args(["storm", &checks.to_string()]))?,
                "capdisc" => storm(
                    Command::new(&capdisc)
                        .args(["record", "-q", "-o", "/tmp/capdisc-bench.yaml", "--"])
                        .arg(&workload)
                        .args(["storm", &checks.to_string()]),
                )?,
                "capdisc-other" => {
                    let mut sleeper = Command::new("sleep").arg("3600").spawn()?;
                    let result = with_background(&mut capdisc_elsewhere(&capdisc, sleeper.id())?, "capdisc: recording", || {
                        storm(Command::new(&workload).args(["storm", &checks.to_string()]))
                    });
                    let _ = sleeper.kill();
                    let _ = sleeper.wait();
                    result?
                }
                _ => {
                    with_background(&mut bpftrace()?, "Attaching", || storm(Command::new(&workload).args(["storm", &checks.to_string()])))?
                }
            };
            let per_check = ns / checks as f64;
            println!("round {round} {mode:<14} {per_check:8.1} ns/check");
            samples[index].push(per_check);
        }
    }
    let medians: Vec<f64> = samples.iter_mut().map(|values| median(values)).collect();
    println!("\n{:<14} {:>12} {:>10}   ({checks} checks x {rounds} rounds, medians)", "mode", "ns/check", "ratio");
    for (mode, value) in modes.iter().zip(&medians) {
        println!("{mode:<14} {value:>12.1} {:>9.2}x", value / medians[0]);
    }
    println!("\ncapdisc / bpftrace count: {:.2} (<= 1.00 means capdisc costs no more than the plain peer count)", medians[1] / medians[3]);
    Ok(())
}

fn storm(command: &mut Command) -> Result<f64> {
    let result = output(command)?;
    let text = String::from_utf8_lossy(&result.stdout);
    let ns = text
        .lines()
        .find_map(|line| line.split(" in ").nth(1)?.strip_suffix(" ns")?.parse::<f64>().ok())
        .with_context(|| format!("the storm printed no timing: {text} {}", String::from_utf8_lossy(&result.stderr)))?;
    Ok(ns)
}

/// capdisc recording a process (`pid`) that is not the workload.
fn capdisc_elsewhere(capdisc: &Path, pid: u32) -> Result<Child> {
    Ok(Command::new(capdisc)
        .args(["record", "-o", "/tmp/capdisc-bench-other.yaml", "--pid", &pid.to_string()])
        .stderr(Stdio::piped())
        .spawn()?)
}

fn bpftrace() -> Result<Child> {
    Ok(Command::new("bpftrace").args(["-e", PEER_PROGRAM]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?)
}

/// Waits for `ready` on the child's output, runs `body`, then stops the child with SIGINT.
fn with_background<T>(child: &mut Child, ready: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    let stream: Box<dyn std::io::Read + Send> = match (child.stdout.take(), child.stderr.take()) {
        (Some(stdout), _) if ready == "Attaching" => Box::new(stdout),
        (_, Some(stderr)) => Box::new(stderr),
        (Some(stdout), None) => Box::new(stdout),
        (None, None) => bail!("no output to wait on"),
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("background tracer exited before it was ready");
        }
        if line.contains(ready) {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let result = body();
    interrupt(child.id());
    let _ = child.wait();
    result
}

fn interrupt(pid: u32) {
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
