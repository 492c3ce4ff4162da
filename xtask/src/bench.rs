//! `cargo xtask bench`: what recording costs the traced service, per capability check. A storm
//! of `kill(pid, 0)` on another uid's process (one CAP_KILL check per call) runs, alternating,
//! round after round:
//! - untraced (the baseline),
//! - the hook's floor: an empty program on the raw, then on the classic `cap_capable` tracepoint,
//! - under `capdisc record --backend B` for every backend this kernel offers (the workload is the
//!   target: filter, key, count),
//! - the per-check cuts one by one, on the backend auto chooses: without any
//!   (`CAPDISC_PER_CHECK_CUTS=none`), with one compare against the single target cgroup instead
//!   of a hash lookup (`cgroup`), with the clock read for `last_ns` only when `jiffies` moved
//!   too (`jiffies`), and with all (the default: also the per-CPU memo of the last key),
//! - while capdisc records another target (the cost a non-target process pays): a `--pid`
//!   (a pid-set lookup) and a `--cgroup` (one compare),
//! - under bpftrace `@[args->cap, args->ret] = count()` on the classic tracepoint (the plain
//!   peer count),
//! - under `record --sandbox` (the sandbox evidence: two programs on every system call).
//!
//! The same rounds time a loop of system calls that check nothing (`getppid`), untraced, under
//! `record`, under `record --sandbox`, and beside a `record --sandbox` of another cgroup: what
//! any system call pays for the sandbox evidence, in the target and outside it.
//!
//! Then the scale rows: `record --all` with 1, 100 and 10,000 extra cgroups each holding a
//! sleeping process (cost per check, time from start to recording, capdisc's peak RSS), and a
//! storm on both CPUs at once, whose count must be exact; then `watch`'s rows (`bench_watch`).
//!
//! The workload times its own loop; medians per check and ratios are printed, with one summary
//! line per ratio. A benchmark, not a test: nothing here asserts a time.
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use crate::{build, run::output, setup};

const PEER_PROGRAM: &str = "tracepoint:capability:cap_capable { @[args->cap, args->ret] = count(); }";

struct Tools {
    capdisc: PathBuf,
    workload: PathBuf,
    checks: u64,
}

impl Tools {
    fn storm(&self) -> Command {
        let mut command = Command::new(&self.workload);
        command.args(["storm", &self.checks.to_string()]);
        command
    }
}

pub fn bench(checks: u64, rounds: u32, watch_only: bool) -> Result<()> {
    if !setup::ready() {
        setup::setup()?;
    }
    setup::apt_install(&["bpftrace".into()])?;
    let release = build::release()?;
    let tools = Tools { capdisc: release.join("capdisc"), workload: release.join("examples/workload"), checks };
    if watch_only {
        return crate::bench_watch::watch_rows(&tools.capdisc, &tools.workload, &cgroup2_mount()?);
    }
    let backends: Vec<&str> = ["raw_tp", "tp_btf", "fexit", "kprobe", "tracepoint"]
        .into_iter()
        .filter(|backend| {
            let probe = Command::new(&tools.capdisc)
                .args(["record", "-q", "--backend", backend, "-o", "/tmp/capdisc-bench-probe.yaml", "--", "/bin/true"])
                .status();
            probe.is_ok_and(|status| status.success())
        })
        .collect();
    let mut modes: Vec<String> = vec!["untraced".into(), "floor raw_tp".into(), "floor tracepoint".into()];
    if let Some(auto) = backends.first() {
        modes.extend(["none", "cgroup", "jiffies"].map(|cuts| format!("capdisc {auto} cuts={cuts}")));
    }
    modes.extend(backends.iter().map(|backend| format!("capdisc {backend}")));
    modes.extend(["capdisc other pid".to_owned(), "capdisc other cgroup".to_owned(), "bpftrace".to_owned()]);
    if let Some(auto) = backends.first() {
        modes.push(format!("capdisc {auto} sandbox"));
    }
    modes.extend(["syscalls untraced", "syscalls capdisc", "syscalls capdisc sandbox", "syscalls other sandbox"].map(str::to_owned));
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 1..=rounds {
        for (index, mode) in modes.iter().enumerate() {
            let ns = run_mode(&tools, mode)?;
            let per_check = ns / checks as f64;
            println!("round {round} {mode:<26} {per_check:8.1} ns/check");
            samples[index].push(per_check);
        }
    }
    let medians: Vec<f64> = samples.iter_mut().map(|values| median(values)).collect();
    let value = |mode: &str| modes.iter().position(|name| name == mode).map(|index| medians[index]);
    println!("\n{:<26} {:>12} {:>10}   ({checks} checks x {rounds} rounds, medians)", "mode", "ns/check", "ratio");
    for (mode, value) in modes.iter().zip(&medians) {
        println!("{mode:<26} {value:>12.1} {:>9.2}x", value / medians[0]);
    }
    if let Some(auto) = backends.first() {
        let cut = |name: &str| value(&format!("capdisc {auto} cuts={name}"));
        if let (Some(none), Some(cgroup), Some(jiffies), Some(all)) =
            (cut("none"), cut("cgroup"), cut("jiffies"), value(&format!("capdisc {auto}")))
        {
            println!(
                "\nper-check cuts on {auto}: single-cgroup compare {:+.1} ns/check, clock only when jiffies moved {:+.1}, per-CPU memo of the last key {:+.1}",
                cgroup - none,
                jiffies - cgroup,
                all - jiffies
            );
        }
    }

    println!("\nscale (record --all, extra cgroups each holding a sleeping process):");
    println!("{:<10} {:>12} {:>12} {:>10}", "cgroups", "ns/check", "attach s", "peak RSS");
    let mut scale_ns = Vec::new();
    for cgroups in [1usize, 100, 10_000] {
        let result = scale(&tools, cgroups, rounds)?;
        println!("{cgroups:<10} {:>12.1} {:>12.3} {:>7.1} MB", result.ns_per_check, result.attach_secs, result.rss_mb);
        scale_ns.push(result.ns_per_check);
    }
    let (both_ns, exact) = both_cpus(&tools)?;
    println!("storm on both CPUs at once: {both_ns:.1} ns/check, counted exactly: {}", if exact { "yes" } else { "NO" });

    let auto = backends.first().map(|backend| format!("capdisc {backend}")).unwrap_or_default();
    if let (Some(capdisc), Some(untraced), Some(peer)) = (value(&auto), value("untraced"), value("bpftrace")) {
        println!("\nratio capdisc/untraced {:.2}  ({auto}, the backend auto chooses here)", capdisc / untraced);
        println!("ratio capdisc/bpftrace {:.2}", capdisc / peer);
    }
    if let (Some(pid), Some(cgroup), Some(untraced)) = (value("capdisc other pid"), value("capdisc other cgroup"), value("untraced")) {
        println!(
            "ratio other/untraced {:.2}  (a process capdisc does not record, beside a --cgroup target; {:.2} beside a --pid target)",
            cgroup / untraced,
            pid / untraced
        );
    }
    if let (Some(floor), Some(untraced)) = (value("floor raw_tp"), value("untraced")) {
        println!("ratio floor/untraced {:.2}  (an empty program on the raw tracepoint)", floor / untraced);
    }
    if let (Some(sandbox), Some(capdisc)) = (value(&format!("{auto} sandbox")), value(&auto)) {
        println!("ratio sandbox/capdisc {:.2}  (the storm under record --sandbox against record)", sandbox / capdisc);
    }
    if let (Some(untraced), Some(recorded), Some(sandbox), Some(other)) =
        (value("syscalls untraced"), value("syscalls capdisc"), value("syscalls capdisc sandbox"), value("syscalls other sandbox"))
    {
        println!(
            "system calls that check nothing: record {:.2}x, record --sandbox {:.2}x ({:+.1} ns per call), beside a --sandbox recording of another cgroup {:.2}x ({:+.1} ns)",
            recorded / untraced,
            sandbox / untraced,
            sandbox - untraced,
            other / untraced,
            other - untraced
        );
    }
    println!("ratio scale10000/1 {:.2}", scale_ns[2] / scale_ns[0]);
    crate::bench_watch::watch_rows(&tools.capdisc, &tools.workload, &cgroup2_mount()?)
}

fn run_mode(tools: &Tools, mode: &str) -> Result<f64> {
    let storm = || storm_ns(&mut tools.storm());
    let calls = || {
        let mut command = Command::new(&tools.workload);
        command.args(["syscalls", &tools.checks.to_string()]);
        command
    };
    let recorded = |extra: &[&str], workload: &[&str]| {
        storm_ns(
            Command::new(&tools.capdisc)
                .args(["record", "-q", "-o", "/tmp/capdisc-bench.yaml"])
                .args(extra)
                .arg("--")
                .arg(&tools.workload)
                .args(workload),
        )
    };
    let checks = tools.checks.to_string();
    match mode {
        "untraced" => storm(),
        "syscalls untraced" => storm_ns(&mut calls()),
        "syscalls capdisc" => recorded(&[], &["syscalls", &checks]),
        "syscalls capdisc sandbox" => recorded(&["--sandbox"], &["syscalls", &checks]),
        "syscalls other sandbox" => {
            let mut sleeper = Command::new("sleep").arg("3600").spawn()?;
            let cgroup = cgroup2_mount()?.join(format!("capdisc-bench-other-{}", std::process::id()));
            std::fs::create_dir_all(&cgroup)?;
            std::fs::write(cgroup.join("cgroup.procs"), sleeper.id().to_string())?;
            let target = vec!["--sandbox".to_owned(), "--cgroup".to_owned(), cgroup.display().to_string()];
            let result = with_background(&mut capdisc_elsewhere(&tools.capdisc, &target)?, "capdisc: recording", || storm_ns(&mut calls()));
            let _ = sleeper.kill();
            let _ = sleeper.wait();
            let _ = std::fs::remove_dir(&cgroup);
            result
        }
        sandbox if sandbox.ends_with(" sandbox") => {
            let backend = sandbox.trim_start_matches("capdisc ").trim_end_matches(" sandbox");
            recorded(&["--backend", backend, "--sandbox"], &["storm", &checks])
        }
        "bpftrace" => with_background(&mut bpftrace()?, "Attaching", storm),
        "capdisc other pid" | "capdisc other cgroup" => {
            let mut sleeper = Command::new("sleep").arg("3600").spawn()?;
            let cgroup = cgroup2_mount()?.join(format!("capdisc-bench-other-{}", std::process::id()));
            let target = if mode.ends_with("pid") {
                vec!["--pid".to_owned(), sleeper.id().to_string()]
            } else {
                std::fs::create_dir_all(&cgroup)?;
                std::fs::write(cgroup.join("cgroup.procs"), sleeper.id().to_string())?;
                vec!["--cgroup".to_owned(), cgroup.display().to_string()]
            };
            let result = with_background(&mut capdisc_elsewhere(&tools.capdisc, &target)?, "capdisc: recording", storm);
            let _ = sleeper.kill();
            let _ = sleeper.wait();
            let _ = std::fs::remove_dir(&cgroup);
            result
        }
        floor if floor.starts_with("floor ") => {
            let hook = floor.trim_start_matches("floor ");
            let mut child = Command::new(&tools.capdisc)
                .args(["__floor", "--hook", hook])
                .stderr(Stdio::piped())
                .spawn()
                .context("cannot start the floor")?;
            with_background(&mut child, "floor attached", storm)
        }
        capdisc => {
            let mut words = capdisc.trim_start_matches("capdisc ").split(' ');
            let backend = words.next().unwrap_or("auto");
            let cuts = words.next().and_then(|word| word.strip_prefix("cuts=")).unwrap_or("all");
            storm_ns(
                Command::new(&tools.capdisc)
                    .env("CAPDISC_PER_CHECK_CUTS", cuts)
                    .args(["record", "-q", "--backend", backend, "-o", "/tmp/capdisc-bench.yaml", "--"])
                    .arg(&tools.workload)
                    .args(["storm", &tools.checks.to_string()]),
            )
        }
    }
}

struct Scale {
    ns_per_check: f64,
    attach_secs: f64,
    rss_mb: f64,
}

/// `record --all` with `cgroups` extra cgroups, each holding a sleeping process.
fn scale(tools: &Tools, cgroups: usize, rounds: u32) -> Result<Scale> {
    let mount = cgroup2_mount()?;
    let parent = mount.join(format!("capdisc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&parent)?;
    let mut sleepers = Vec::new();
    let result = (|| -> Result<Scale> {
        for index in 0..cgroups {
            let dir = parent.join(format!("c{index}"));
            std::fs::create_dir_all(&dir)?;
            let sleeper = Command::new("sleep").arg("3600").spawn()?;
            std::fs::write(dir.join("cgroup.procs"), sleeper.id().to_string())?;
            sleepers.push(sleeper);
        }
        let mut ns = Vec::new();
        let (mut attach, mut rss) = (Vec::new(), 0f64);
        for _ in 0..rounds {
            let started = Instant::now();
            let mut capdisc = Command::new(&tools.capdisc)
                .args(["record", "--all", "-o", "/tmp/capdisc-bench-all.yaml"])
                .stderr(Stdio::piped())
                .spawn()
                .context("cannot start capdisc")?;
            let mut peak = 0f64;
            let value = with_background_timed(&mut capdisc, "capdisc: recording", &mut attach, started, Some(&mut peak), || {
                storm_ns(&mut tools.storm())
            })?;
            ns.push(value / tools.checks as f64);
            rss = rss.max(peak);
        }
        Ok(Scale { ns_per_check: median(&mut ns), attach_secs: median(&mut attach), rss_mb: rss })
    })();
    for mut sleeper in sleepers {
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }
    for index in 0..cgroups {
        let _ = std::fs::remove_dir(parent.join(format!("c{index}")));
    }
    let _ = std::fs::remove_dir(&parent);
    result
}

/// Two storms at once, one per CPU, under one recording: returns ns/check and whether the
/// profile counted every check.
fn both_cpus(tools: &Tools) -> Result<(f64, bool)> {
    let storm = format!("{} storm {}", tools.workload.display(), tools.checks);
    let out = Command::new(&tools.capdisc)
        .args(["record", "-q", "-o", "/tmp/capdisc-bench-both.json", "--json", "--", "sh", "-c"])
        .arg(format!("taskset -c 0 {storm} & taskset -c 1 {storm}; wait"))
        .output()
        .context("cannot run the two storms")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<f64> = text.lines().filter_map(|line| line.split(" in ").nth(1)?.strip_suffix(" ns")?.parse::<f64>().ok()).collect();
    if times.len() != 2 {
        bail!("the two storms printed no timing: {text}");
    }
    let profile: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("/tmp/capdisc-bench-both.json")?)?;
    let kill = profile["capabilities"].as_array().into_iter().flatten().find(|cap| cap["name"] == "CAP_KILL");
    let counted = kill.and_then(|cap| cap["granted"].as_u64()).unwrap_or(0);
    Ok(((times[0] + times[1]) / 2.0 / tools.checks as f64, counted == 2 * tools.checks))
}

fn storm_ns(command: &mut Command) -> Result<f64> {
    let result = output(command)?;
    let text = String::from_utf8_lossy(&result.stdout);
    let ns = text
        .lines()
        .find_map(|line| line.split(" in ").nth(1)?.strip_suffix(" ns")?.parse::<f64>().ok())
        .with_context(|| format!("the storm printed no timing: {text} {}", String::from_utf8_lossy(&result.stderr)))?;
    Ok(ns)
}

/// capdisc recording a target (`--pid PID` or `--cgroup PATH`) that is not the workload.
fn capdisc_elsewhere(capdisc: &Path, target: &[String]) -> Result<Child> {
    Ok(Command::new(capdisc).args(["record", "-o", "/tmp/capdisc-bench-other.yaml"]).args(target).stderr(Stdio::piped()).spawn()?)
}

fn bpftrace() -> Result<Child> {
    Ok(Command::new("bpftrace").args(["-B", "none", "-e", PEER_PROGRAM]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?)
}

/// Waits for `ready` on the child's output, runs `body`, then stops the child with SIGINT.
fn with_background<T>(child: &mut Child, ready: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut ignored = Vec::new();
    with_background_timed(child, ready, &mut ignored, Instant::now(), None, body)
}

/// [`with_background`], noting in `attach` how long after `started` the child was ready, and in
/// `peak` the child's own peak RSS in MB (from wait4, so its final drain counts).
fn with_background_timed<T>(
    child: &mut Child,
    ready: &str,
    attach: &mut Vec<f64>,
    started: Instant,
    peak: Option<&mut f64>,
    body: impl FnOnce() -> Result<T>,
) -> Result<T> {
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
    attach.push(started.elapsed().as_secs_f64());
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    if ready == "Attaching" {
        // bpftrace says "Attaching" before it attaches and says nothing after: let it finish
        // (a benchmark's settling time; capdisc and the floor say when they are attached).
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let result = body();
    interrupt(child.id());
    match peak {
        Some(peak) => {
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let mut status = 0;
            unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
            *peak = usage.ru_maxrss as f64 / 1024.0;
        }
        None => {
            let _ = child.wait();
        }
    }
    result
}

fn cgroup2_mount() -> Result<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2").then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
        })
        .context("cgroup v2 is not mounted")
}

fn interrupt(pid: u32) {
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
