//! Checks before anything is loaded: privileges to load and attach eBPF programs, and kernel
//! BTF (the programs read the current task through BTF-typed helpers).
use std::path::Path;

use crate::{caps, error::Error};

pub fn check() -> Result<(), Error> {
    let root = unsafe { libc::geteuid() } == 0;
    let has = |cap| caps::in_own_effective_set(cap);
    if !(root || (has(caps::CAP_BPF) && has(caps::CAP_PERFMON))) {
        return Err(Error::Privileges(
            "capdisc needs root (or CAP_BPF and CAP_PERFMON) to load its eBPF programs; run it with sudo".into(),
        ));
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(Error::Kernel(
            "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); capdisc needs a kernel built with CONFIG_DEBUG_INFO_BTF=y".into(),
        ));
    }
    Ok(())
}
