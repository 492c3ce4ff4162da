//! Builds: the release binary for the host, and static binaries for the QEMU guests.
use std::path::PathBuf;

use anyhow::Result;

use crate::run::{cargo, run, stdout, workspace};

/// Release build of capdisc, the demo service and the workloads; returns target/release.
pub fn release() -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "-p", "capdisc", "--bins", "--examples"]))?;
    Ok(workspace().join("target/release"))
}

/// Statically linked capdisc, the demo, the workload and the guest tests' runner for the guests;
/// returns their directory.
pub fn static_binaries() -> Result<PathBuf> {
    run(static_cargo("build").args(["-p", "capdisc", "--bin", "capdisc", "--bin", "capdisc-demo", "--example", "workload"]).args([
        "-p",
        "capdisc-guest-tests",
        "--bin",
        "capdisc-guest-run",
    ]))?;
    Ok(workspace().join("target/static/x86_64-unknown-linux-gnu/release"))
}

/// The guest tests' binaries, statically linked: (suite, executable) for each file of
/// guest-tests/tests (`story`...).
pub fn guest_tests() -> Result<Vec<(String, PathBuf)>> {
    let listing = stdout(static_cargo("test").args(["-p", "capdisc-guest-tests", "--tests", "--no-run", "--message-format=json"]))?;
    let mut suites = Vec::new();
    for line in listing.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let is_test = message["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|kind| kind == "test"));
        if message["reason"] == "compiler-artifact" && is_test {
            if let (Some(name), Some(executable)) = (message["target"]["name"].as_str(), message["executable"].as_str()) {
                suites.push((name.to_owned(), PathBuf::from(executable)));
            }
        }
    }
    if suites.is_empty() {
        anyhow::bail!("cargo built no guest test binary (capdisc-guest-tests)");
    }
    Ok(suites)
}

/// `cargo SUBCOMMAND --release` for static binaries (glibc, crt-static) in target/static.
fn static_cargo(subcommand: &str) -> std::process::Command {
    let mut command = cargo();
    command
        .args([subcommand, "--release", "--target", "x86_64-unknown-linux-gnu", "--target-dir", "target/static"])
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    command
}

/// `cargo xtask man`: capdisc's man pages (capdisc.1 with the profile schema, and one page per
/// subcommand), generated from its clap definitions into target/man.
pub fn man() -> anyhow::Result<()> {
    let release = release()?;
    let dir = workspace().join("target/man");
    std::fs::create_dir_all(&dir)?;
    crate::run::run(std::process::Command::new(release.join("capdisc")).arg("man").arg("--dir").arg(&dir))?;
    eprintln!("xtask: man pages in {}; read one with `man -l {}/capdisc.1`", dir.display(), dir.display());
    Ok(())
}
