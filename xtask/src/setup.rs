//! `cargo xtask setup`: installs, idempotently, everything capdisc's build, tests, VMs and
//! benchmark need on a fresh Debian machine, saying what it does:
//! - apt packages: the LLVM matching nightly rustc's (for bpf-linker), QEMU and busybox (VM
//!   tests), bpftrace (the benchmark's peer), util-linux and libcap2-bin (setpriv, capsh), systemd
//!   (systemd-analyze, to check generated drop-ins), prometheus (scrapes `capdisc watch` in its
//!   host test);
//! - the nightly toolchain pinned in `capdisc-ebpf/nightly-toolchain`, with rust-src (the eBPF
//!   crate is built with -Z build-std=core), so a fresh machine builds exactly what CI built;
//! - bpf-linker, built against that same LLVM major (the bitcode reader must match rustc's).
use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::run::{output, run, stdout};

/// The pinned nightly toolchain (`nightly-YYYY-MM-DD`), the one `capdisc/build.rs` builds with.
pub fn nightly() -> Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../capdisc-ebpf/nightly-toolchain");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read the toolchain pin {}", path.display()))?;
    Ok(text.trim().to_owned())
}
const BPF_LINKER_VERSION: &str = "0.13.0";
const CARGO_FUZZ_VERSION: &str = "0.13.2";
const CARGO_DEB_VERSION: &str = "3.8.0";

pub fn setup() -> Result<()> {
    let nightly = nightly()?;
    ensure_nightly(&nightly)?;
    let llvm = nightly_llvm_major(&nightly)?;
    eprintln!("xtask: setup: {nightly} rustc uses LLVM {llvm}");
    apt_install(&packages(llvm))?;
    ensure_style_tools()?;
    ensure_cargo_fuzz()?;
    ensure_cargo_deb()?;
    ensure_bpf_linker(llvm)?;
    eprintln!("xtask: setup: done");
    Ok(())
}

/// Debian packages the build, the tests, the guests and the benchmark use.
fn packages(llvm: u32) -> Vec<String> {
    let mut packages = vec![format!("llvm-{llvm}-dev"), format!("libpolly-{llvm}-dev")];
    packages.extend(
        [
            "libzstd-dev",
            "zlib1g-dev",
            "qemu-system-x86",
            "busybox-static",
            "bpftrace",
            "util-linux",
            "libcap2-bin",
            "systemd",
            "debootstrap",
            "cpio",
            "prometheus",
        ]
        .map(String::from),
    );
    packages
}

/// Whether everything is in place already (cheap; used before test and demo).
pub fn ready() -> bool {
    let Ok(nightly) = nightly() else { return false };
    let Ok(llvm) = nightly_llvm_major(&nightly) else { return false };
    bpf_linker_llvm_major() == Some(llvm)
        && rust_src_installed(&nightly)
        && style_tools_installed()
        && cargo_fuzz_installed()
        && cargo_tool_installed("deb")
        && packages(llvm).iter().all(|package| installed(package))
}

fn nightly_llvm_major(nightly: &str) -> Result<u32> {
    let text = stdout(Command::new("rustup").args(["run", nightly, "rustc", "-vV"]))
        .with_context(|| format!("the {nightly} toolchain is needed to build the eBPF programs (cargo xtask setup installs it)"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("LLVM version: "))
        .and_then(|version| version.split('.').next()?.parse().ok())
        .context("cannot read the LLVM version of nightly rustc")
}

pub fn apt_install(packages: &[String]) -> Result<()> {
    let missing: Vec<&String> = packages.iter().filter(|package| !installed(package)).collect();
    if missing.is_empty() {
        eprintln!("xtask: setup: apt packages present");
        return Ok(());
    }
    eprintln!("xtask: setup: installing {}", missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" "));
    apt_update()?;
    let mut command = Command::new("apt-get");
    command.args(["install", "-y", "-q", "--no-install-recommends"]).args(missing).env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut command)
}

/// `apt-get update`, once per setup run.
pub fn apt_update() -> Result<()> {
    static DONE: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    DONE.call_once(|| result = run(Command::new("apt-get").args(["update", "-q"])));
    result
}

fn installed(package: &str) -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn rust_src_installed(nightly: &str) -> bool {
    stdout(Command::new("rustup").args(["component", "list", "--installed", "--toolchain", nightly]))
        .is_ok_and(|text| text.lines().any(|line| line.trim().starts_with("rust-src")))
}

/// cargo-fuzz, for `cargo xtask fuzz` (and its smoke run in `cargo xtask test`).
pub fn ensure_cargo_fuzz() -> Result<()> {
    ensure_cargo_tool("cargo-fuzz", CARGO_FUZZ_VERSION)
}

fn cargo_fuzz_installed() -> bool {
    cargo_tool_installed("fuzz")
}

/// cargo-deb, for `cargo xtask deb` (the package the container outputs' guest installs).
pub fn ensure_cargo_deb() -> Result<()> {
    ensure_cargo_tool("cargo-deb", CARGO_DEB_VERSION)
}

/// A cargo subcommand (`cargo-NAME`) at its pinned version, installed from crates.io unless present.
fn ensure_cargo_tool(package: &str, version: &str) -> Result<()> {
    if cargo_tool_installed(package.trim_start_matches("cargo-")) {
        return Ok(());
    }
    eprintln!("xtask: setup: installing {package} {version}");
    run(Command::new("cargo").args(["install", "--locked", package, "--version", version]))
}

fn cargo_tool_installed(subcommand: &str) -> bool {
    stdout(Command::new("cargo").args([subcommand, "--version"])).is_ok()
}

/// rustfmt and clippy for the build's own toolchain (`cargo xtask test` checks style first).
fn ensure_style_tools() -> Result<()> {
    if style_tools_installed() {
        eprintln!("xtask: setup: rustfmt and clippy present");
        return Ok(());
    }
    run(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]).current_dir(crate::run::workspace()))
}

fn style_tools_installed() -> bool {
    let mut command = Command::new("rustup");
    command.args(["component", "list", "--installed"]).current_dir(crate::run::workspace());
    stdout(&mut command).is_ok_and(|text| text.contains("rustfmt") && text.contains("clippy"))
}

/// Installs the pinned nightly with rust-src (a minimal profile: the eBPF build needs nothing
/// else).
fn ensure_nightly(nightly: &str) -> Result<()> {
    if rust_src_installed(nightly) {
        eprintln!("xtask: setup: {nightly} with rust-src present");
        return Ok(());
    }
    run(Command::new("rustup").args(["toolchain", "install", nightly, "--profile", "minimal", "--component", "rust-src"]))
}

/// The LLVM major bpf-linker is linked against (from the libLLVM it loads).
fn bpf_linker_llvm_major() -> Option<u32> {
    let path = stdout(Command::new("sh").args(["-c", "command -v bpf-linker"])).ok()?;
    let libraries = stdout(Command::new("ldd").arg(path.trim())).ok()?;
    libraries.lines().find_map(|line| {
        let name = line.split_whitespace().next()?;
        name.strip_prefix("libLLVM.so.").or_else(|| name.strip_prefix("libLLVM-"))?.split(['.', '-']).next()?.parse().ok()
    })
}

fn ensure_bpf_linker(llvm: u32) -> Result<()> {
    match bpf_linker_llvm_major() {
        Some(major) if major == llvm => {
            eprintln!("xtask: setup: bpf-linker present, built against LLVM {major}");
            return Ok(());
        }
        Some(major) => eprintln!("xtask: setup: bpf-linker uses LLVM {major}, nightly uses {llvm}: rebuilding"),
        None => eprintln!("xtask: setup: installing bpf-linker {BPF_LINKER_VERSION} against LLVM {llvm}"),
    }
    let prefix = format!("/usr/lib/llvm-{llvm}");
    if !Path::new(&prefix).is_dir() {
        bail!("{prefix} is missing: install llvm-{llvm}-dev");
    }
    run(Command::new("cargo")
        .args(["install", "--force", "bpf-linker", "--version", BPF_LINKER_VERSION, "--no-default-features", "--features"])
        .arg(format!("llvm-{llvm}"))
        .env("LLVM_PREFIX", &prefix))?;
    match bpf_linker_llvm_major() {
        Some(major) if major == llvm => Ok(()),
        other => bail!("bpf-linker was installed but links LLVM {other:?}, not {llvm}; is ~/.cargo/bin on PATH?"),
    }
}
