//! Checks before anything is loaded: privileges to load and attach eBPF programs, and kernel
//! BTF (the programs read the current task through BTF-typed helpers).
use std::path::Path;

use super::procfs;
use crate::{caps, error::Error};

/// What a non-root capdisc must hold to record, trace or watch, and why each: loading and
/// attaching the programs (CAP_BPF, CAP_PERFMON), reaching tracefs (mode 0700, root's) and making
/// and leaving cgroups in a tree root owns (CAP_DAC_OVERRIDE), and reading kernel addresses in
/// /proc/kallsyms, without which call sites have no names and no-audit probes on backends
/// without `opts` would read as denials (CAP_SYSLOG). Measured as user nobody with exactly
/// these four in its ambient set (tests/root/errors.rs).
pub const NON_ROOT_NEEDS: &[(u32, &str)] = &[
    (caps::CAP_BPF, "to load the eBPF programs"),
    (caps::CAP_PERFMON, "to attach them"),
    (caps::CAP_DAC_OVERRIDE, "to reach tracefs and capdisc's cgroups, which root owns"),
    (caps::CAP_SYSLOG, "to name call sites from /proc/kallsyms"),
];

/// Before a recording, trace or watch: root, or every capability of [`NON_ROOT_NEEDS`].
pub fn check() -> Result<(), Error> {
    if unsafe { libc::geteuid() } != 0 {
        let missing: Vec<String> = NON_ROOT_NEEDS
            .iter()
            .filter(|(cap, _)| !in_own_effective_set(*cap))
            .map(|(cap, why)| format!("{} ({why})", caps::name(*cap)))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Privileges(format!(
                "capdisc needs root, or CAP_BPF, CAP_PERFMON, CAP_DAC_OVERRIDE and CAP_SYSLOG; this process lacks {}: run it with sudo",
                missing.join(", ")
            )));
        }
    }
    kernel_ready()
}

/// Before `verify` or `minimize`: root. A trial runs its target under a set capdisc grants it,
/// so capdisc must hold every capability it may grant, drop bounding sets (CAP_SETPCAP), run
/// the target as another user and signal it: all of root's.
pub fn check_root_for(subcommand: &str) -> Result<(), Error> {
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::Privileges(format!(
            "capdisc {subcommand} runs the target under sets of capabilities it grants, so it needs root: run it with sudo"
        )));
    }
    kernel_ready()
}

/// The kernel side capdisc loads needs BTF.
fn kernel_ready() -> Result<(), Error> {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(Error::Kernel(
            "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); capdisc needs a kernel built with CONFIG_DEBUG_INFO_BTF=y".into(),
        ));
    }
    Ok(())
}

/// Whether capability `number` is in capdisc's own effective set.
fn in_own_effective_set(number: u32) -> bool {
    let text = procfs::status(procfs::Proc::Own).unwrap_or_default();
    procfs::status_mask(&text, "CapEff").is_some_and(|mask| mask & (1u64 << number) != 0)
}
