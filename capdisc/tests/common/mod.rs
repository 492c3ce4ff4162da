//! Helpers for the integration tests: run the real capdisc binary as root against the real
//! workloads (examples/workload.rs) and read back the profile it wrote.
#![allow(dead_code)]
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use capdisc::{
    classify::Class,
    profile::{self, CapabilityUse, Profile},
};

pub fn capdisc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_capdisc"))
}

/// The workload example, built by `cargo test` next to the test binaries.
pub fn workload() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = debug_dir.join("examples").join("workload");
    assert!(path.exists(), "{} missing: run the tests with `cargo test` (it builds examples)", path.display());
    path
}

pub struct Recording {
    pub output: Output,
    pub profile: Profile,
    _dir: tempfile::TempDir,
}

/// `capdisc record -q [extra] -- workload ARGS`, returning its output and parsed profile.
pub fn record_workload(extra: &[&str], workload_args: &[&str]) -> Recording {
    let workload = workload();
    let mut argv: Vec<&str> = vec!["--"];
    argv.push(workload.to_str().expect("utf-8 path"));
    argv.extend_from_slice(workload_args);
    record(extra, &argv)
}

pub fn record(extra: &[&str], target: &[&str]) -> Recording {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("profile.yaml");
    let output = capdisc().args(["record", "-q", "-o"]).arg(&path).args(extra).args(target).output().expect("run capdisc");
    assert!(path.exists(), "no profile written; status {:?}\nstderr: {}", output.status, String::from_utf8_lossy(&output.stderr));
    let profile = profile::read(&path).expect("profile reads back");
    Recording { output, profile, _dir: dir }
}

pub fn cap<'a>(profile: &'a Profile, name: &str) -> &'a CapabilityUse {
    profile.capability(name).unwrap_or_else(|| panic!("{name} not in profile: {:#?}", profile.capabilities))
}

pub fn required(profile: &Profile) -> Vec<&str> {
    profile.names_of(Class::Required)
}

pub fn syscall_names(cap: &CapabilityUse) -> Vec<&str> {
    cap.syscalls.iter().map(|syscall| syscall.name.as_str()).collect()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Whether this test must be skipped because it needs root (loading eBPF programs, setpriv);
/// says so out loud, so a skip never reads as a pass.
pub fn skip_without_root() -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return false;
    }
    let name = std::thread::current().name().unwrap_or("this test").to_owned();
    eprintln!("skipping {name}: it loads eBPF programs or changes uids, which needs root");
    true
}

/// The cgroups (`capdisc-PID-*`) capdisc process `pid` made that are still under the cgroup v2
/// root: a run, a trial or a check must leave none.
pub fn capdisc_cgroups_of(pid: u32) -> Vec<String> {
    let prefix = format!("capdisc-{pid}-");
    std::fs::read_dir(capdisc::kernel::cgroup2_mount().expect("cgroup v2"))
        .expect("cgroup v2 root")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}
