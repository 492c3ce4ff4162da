//! `cargo xtask test`: the whole suite. Unit tests, then the integration tests that load the
//! real probes on this kernel (as root), then the backends on other kernels under QEMU.
use anyhow::{bail, Result};

use crate::{run::{cargo, run}, setup, vm};

pub fn test(with_vm: bool) -> Result<()> {
    if unsafe_geteuid() != 0 {
        bail!("the tests load eBPF programs: run `cargo xtask test` as root");
    }
    if !setup::ready() {
        setup::setup()?;
    }
    // Integration tests bind port 443 and count storms: one test binary at a time, two
    // threads, so workloads do not contend for the two cores.
    run(cargo().args(["test", "--workspace", "--exclude", "capdisc-ebpf", "--no-fail-fast", "--", "--test-threads=2"]))?;
    if with_vm {
        vm::vm()?;
    }
    Ok(())
}

fn unsafe_geteuid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| line.strip_prefix("Uid:")?.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
