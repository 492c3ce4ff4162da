//! Builds: the release binary for the host, and static binaries for the QEMU guests.
use std::path::PathBuf;

use anyhow::Result;

use crate::run::{cargo, run, workspace};

/// Release build of capdisc, the demo service and the workloads; returns target/release.
pub fn release() -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "-p", "capdisc", "--bins", "--examples"]))?;
    Ok(workspace().join("target/release"))
}

/// Statically linked capdisc, the demo and the workload for the guests; returns their directory.
pub fn static_binaries() -> Result<PathBuf> {
    run(cargo()
        .args(["build", "--release", "-p", "capdisc", "--bin", "capdisc", "--bin", "capdisc-demo", "--example", "workload"])
        .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir", "target/static"])
        .env("RUSTFLAGS", "-C target-feature=+crt-static"))?;
    Ok(workspace().join("target/static/x86_64-unknown-linux-gnu/release"))
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
