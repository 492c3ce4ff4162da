//! capdisc-guest-run: the guests' one unit runs this. For each suite named on its command line
//! (or in the kernel's `capdisc.suites=a,b`), it runs that suite's test binary
//! (`/usr/local/lib/capdisc/tests/SUITE`) one test at a time with libtest's own output, each line
//! sent to the serial console as `CAPDISC-TEST SUITE LINE` for `cargo xtask vm` to read; the
//! kernel's `capdisc.tests=NAME[,NAME]` selects tests by name, as `cargo test NAME` does. A
//! suite given as an absolute path is a program run as it is (its own output). Then it powers
//! the guest off.
use std::{
    fs,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

const TESTS: &str = "/usr/local/lib/capdisc/tests";

fn main() {
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let option = |key: &str| -> Option<Vec<String>> {
        cmdline.split_whitespace().find_map(|word| word.strip_prefix(key)).map(|value| value.split(',').map(str::to_owned).collect())
    };
    let suites = option("capdisc.suites=").unwrap_or_else(|| std::env::args().skip(1).collect());
    let filters = option("capdisc.tests=").unwrap_or_default();
    let mut console: Box<dyn Write> = match fs::OpenOptions::new().write(true).open("/dev/ttyS0") {
        Ok(serial) => Box::new(serial),
        Err(_) => Box::new(std::io::stdout()),
    };
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(console, "CAPDISC-GUEST begin {} suites {} tests {}", kernel.trim(), suites.join(","), filters.join(","));
    for suite in &suites {
        if suite.starts_with('/') {
            match Command::new(suite).status() {
                Ok(status) => {
                    let _ = writeln!(console, "CAPDISC-GUEST ran {suite}: {status}");
                }
                Err(err) => {
                    let _ = writeln!(console, "CAPDISC-GUEST cannot run {suite}: {err}");
                }
            }
            continue;
        }
        run_suite(suite, &filters, &mut console);
    }
    let _ = writeln!(console, "CAPDISC-GUEST done");
    let _ = Command::new("systemctl").args(["poweroff", "--no-block"]).status();
}

/// Runs one suite's tests, its output (stdout and stderr as they come) to `console`.
fn run_suite(suite: &str, filters: &[String], console: &mut dyn Write) {
    let binary = format!("{TESTS}/{suite}");
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(err) => {
            let _ = writeln!(console, "CAPDISC-TEST {suite} error: cannot make a pipe: {err}");
            return;
        }
    };
    let stderr = match writer.try_clone() {
        Ok(stderr) => stderr,
        Err(err) => {
            let _ = writeln!(console, "CAPDISC-TEST {suite} error: cannot make a pipe: {err}");
            return;
        }
    };
    let child = Command::new(&binary)
        .args(["--test-threads=1", "--show-output"])
        .args(filters)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            let _ = writeln!(console, "CAPDISC-TEST {suite} error: cannot run {binary}: {err}");
            return;
        }
    };
    // The writers live in the child only now: the reader ends when the child does.
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(console, "CAPDISC-TEST {suite} {line}");
    }
    let status = child.wait().map(|status| status.to_string()).unwrap_or_else(|err| err.to_string());
    let _ = writeln!(console, "CAPDISC-GUEST suite {suite} ended: {status}");
}
