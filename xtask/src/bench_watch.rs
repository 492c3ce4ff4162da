//! `cargo xtask bench`'s `watch` rows (also alone: `cargo xtask bench --watch`), measured, never
//! asserted as times:
//! - durable state: `watch --all --interval 1` over 100 busy units (a cgroup each, every one
//!   storming 20 checks a second): how long each durable write of the state takes and what share
//!   of every second it is, with watch's CPU and peak RSS;
//! - churn: `watch --all` while 10,000 short-lived cgroups (`run-uN.service`, which watch folds
//!   into `run-*.service`) each run a 5-check storm and are removed, at least 200 a second: every
//!   check must be counted into `run-*.service` or `(unnamed cgroups)`, and the kernel map must
//!   come back to the live cgroups' keys.
use std::{
    io::Read,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

const BUSY_UNITS: usize = 100;
const CHURN_CGROUPS: usize = 10_000;
const CHURN_CHECKS: u64 = 5;

pub fn watch_rows(capdisc: &Path, workload: &Path, mount: &Path) -> Result<()> {
    println!("\nwatch: durable state with {BUSY_UNITS} busy units (watch --all --interval 1, 30 s):");
    let (writes, cpu, rss) = durable_state(capdisc, workload, mount)?;
    println!("  {writes}; watch used {cpu:.1}% of one CPU, peak RSS {rss:.1} MB");
    println!("\nwatch: churn of {CHURN_CGROUPS} short-lived cgroups ({CHURN_CHECKS} checks each):");
    churn(capdisc, workload, mount)
}

fn durable_state(capdisc: &Path, workload: &Path, mount: &Path) -> Result<(String, f64, f64)> {
    let parent = mount.join(format!("capdisc-soak-{}.slice", std::process::id()));
    std::fs::create_dir_all(&parent)?;
    let state = PathBuf::from(format!("/tmp/capdisc-soak-state-{}", std::process::id()));
    let mut busy = Vec::new();
    let result = (|| -> Result<(String, f64, f64)> {
        for index in 0..BUSY_UNITS {
            let dir = parent.join(format!("busy-{index}.service"));
            std::fs::create_dir_all(&dir)?;
            let script = format!("while :; do '{}' storm 20 > /dev/null; sleep 1; done", workload.display());
            busy.push(in_cgroup(Command::new("sh").args(["-c", &script]), &dir).spawn()?);
        }
        let started = Instant::now();
        let mut watch = Command::new(capdisc)
            .args(["watch", "--all", "--learn", "1h", "--interval", "1", "--duration", "30", "--state-dir"])
            .arg(&state)
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start capdisc watch")?;
        let mut stderr = String::new();
        watch.stderr.take().context("stderr")?.read_to_string(&mut stderr)?;
        let (status, usage) = wait_with_usage(watch.id());
        if status != 0 {
            bail!("watch exited {status}: {stderr}");
        }
        let line = stderr.lines().find(|line| line.contains("state written")).context("watch said nothing of its writes")?;
        let writes = line
            .split_once("(state written")
            .map(|(_, rest)| format!("state written{}", rest.trim_end_matches(')')))
            .unwrap_or(line.to_owned());
        let cpu = (usage.0 + usage.1) / started.elapsed().as_secs_f64() * 100.0;
        Ok((writes, cpu, usage.2))
    })();
    for mut process in busy {
        let _ = process.kill();
        let _ = process.wait();
    }
    remove_tree(&parent);
    let _ = std::fs::remove_dir_all(&state);
    result
}

fn churn(capdisc: &Path, workload: &Path, mount: &Path) -> Result<()> {
    let parent = mount.join(format!("capdisc-churn-{}.slice", std::process::id()));
    std::fs::create_dir_all(&parent)?;
    let state = PathBuf::from(format!("/tmp/capdisc-churn-state-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut watch = Command::new(capdisc)
        .args(["watch", "--all", "--learn", "1h", "--interval", "1", "--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
        .arg(&state)
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start capdisc watch")?;
    let mut stderr = watch.stderr.take().context("stderr")?;
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains("capdisc: watching") {
        let mut buffer = [0u8; 512];
        let read = stderr.read(&mut buffer)?;
        if read == 0 || Instant::now() > deadline {
            bail!("watch did not start: {seen}");
        }
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let result = (|| -> Result<()> {
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        std::thread::scope(|scope| -> Result<()> {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| -> Result<()> {
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            if index >= CHURN_CGROUPS {
                                return Ok(());
                            }
                            let dir = parent.join(format!("run-u{index}.service"));
                            std::fs::create_dir(&dir)?;
                            let status = in_cgroup(Command::new(workload).args(["storm", &CHURN_CHECKS.to_string()]), &dir)
                                .stdout(Stdio::null())
                                .status()?;
                            if !status.success() {
                                bail!("a churn storm failed: {status}");
                            }
                            remove_tree(&dir);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().map_err(|_| anyhow::anyhow!("a churn worker panicked"))??;
            }
            Ok(())
        })?;
        let secs = started.elapsed().as_secs_f64();
        let expected = CHURN_CGROUPS as u64 * CHURN_CHECKS;
        let series =
            |target: &str| format!(r#"capdisc_capability_checks_total{{target="{target}",capability="CAP_KILL",verdict="granted"}}"#);
        let counted = || {
            let body = metrics(port).unwrap_or_default();
            let value = |target: &str| -> u64 {
                body.lines().find_map(|line| line.strip_prefix(&series(target))).and_then(|rest| rest.trim().parse().ok()).unwrap_or(0)
            };
            (value("run-*.service"), value("(unnamed cgroups)"), body)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let (named, unnamed, body) = loop {
            let (named, unnamed, body) = counted();
            if named + unnamed >= expected || Instant::now() > deadline {
                break (named, unnamed, body);
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        let gauge = |name: &str| body.lines().find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0);
        println!("  {CHURN_CGROUPS} cgroups in {secs:.1} s ({:.0} a second)", CHURN_CGROUPS as f64 / secs);
        println!(
            "  CAP_KILL checks counted: {} of {expected} (run-*.service {named}, (unnamed cgroups) {unnamed}): {}",
            named + unnamed,
            if named + unnamed == expected { "exact" } else { "NOT EXACT" }
        );
        println!("  kernel keys afterwards: {} (of --max-keys {})", gauge("capdisc_kernel_keys "), gauge("capdisc_kernel_keys_max "));
        Ok(())
    })();
    unsafe { libc::kill(watch.id() as i32, libc::SIGTERM) };
    let (_, usage) = wait_with_usage(watch.id());
    println!("  watch: {:.1} s of CPU, peak RSS {:.1} MB", usage.0 + usage.1, usage.2);
    remove_tree(&parent);
    let _ = std::fs::remove_dir_all(&state);
    result
}

/// The command, moved into `cgroup` between fork and exec.
fn in_cgroup<'a>(command: &'a mut Command, cgroup: &Path) -> &'a mut Command {
    let procs = cgroup.join("cgroup.procs");
    unsafe {
        command.pre_exec(move || {
            std::fs::write(&procs, std::process::id().to_string())?;
            Ok(())
        })
    }
}

fn metrics(port: u16) -> Option<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Waits for `pid`: its exit status, and (user s, system s, peak RSS MB) from wait4.
fn wait_with_usage(pid: u32) -> (i32, (f64, f64, f64)) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut status = 0;
    unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    let secs = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    (code, (secs(usage.ru_utime), secs(usage.ru_stime), usage.ru_maxrss as f64 / 1024.0))
}

/// Removes a cgroup and everything below it, deepest first, killing what still runs there (a
/// killed shell loop leaves its current child behind).
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let populated = || std::fs::read_to_string(dir.join("cgroup.events")).is_ok_and(|events| events.contains("populated 1"));
    if populated() {
        let _ = std::fs::write(dir.join("cgroup.kill"), "1");
        let deadline = Instant::now() + Duration::from_secs(10);
        while populated() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = std::fs::remove_dir(dir);
}
