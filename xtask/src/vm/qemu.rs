//! Booting a kernel + initramfs under QEMU (TCG) with the serial console captured to a log.
use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

/// One virtual CPU. Under TCG with several vCPUs (one host thread each), a vCPU can still run a
/// stale translation of kernel text that another vCPU just patched: attaching or detaching a
/// program flips a static key (`text_poke_bp`), and the guest kernel died of an `Oops: int3` in
/// `syscall_exit_to_user_mode_prepare` (the `raw_syscalls:sys_exit` site every system call
/// passes) while a proof attached and detached it trial after trial. Real CPUs patch safely;
/// one vCPU cannot race itself.
const VCPUS: &str = "1";

/// A guest that is not done by then is stuck (the systemd story and its container steps take 18-28 min under TCG).
const BOOT_TIMEOUT: Duration = Duration::from_secs(3300);

/// Boots and returns the serial output. The log file is kept (for failures).
pub fn boot(vmlinuz: &Path, initramfs: &Path, log: &Path) -> Result<String> {
    boot_with(vmlinuz, initramfs, log, "1024", "console=ttyS0 rdinit=/init panic=-1 loglevel=4")
}

/// Boots with a memory size (MiB) and kernel command line of the caller's. A kernel that panics
/// while it boots, before the guest's script said anything (seen under TCG on this machine: an
/// int3 oops in an early initcall), is booted again, twice at most, saying so.
pub fn boot_with(vmlinuz: &Path, initramfs: &Path, log: &Path, memory: &str, append: &str) -> Result<String> {
    let mut attempt = 1;
    loop {
        let serial = boot_once(vmlinuz, initramfs, log, memory, append)?;
        let panicked_early = serial.contains("Kernel panic") && !serial.contains("CAPDISC");
        if !panicked_early || attempt == 3 {
            return Ok(serial);
        }
        let kept = log.with_extension(format!("panic-{attempt}.log"));
        let _ = fs::copy(log, &kept);
        eprintln!("xtask: vm: the guest kernel panicked while booting (log kept at {}); booting again", kept.display());
        attempt += 1;
    }
}

fn boot_once(vmlinuz: &Path, initramfs: &Path, log: &Path, memory: &str, append: &str) -> Result<String> {
    let log_file = fs::File::create(log)?;
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-m", memory, "-smp", VCPUS, "-nographic", "-no-reboot", "-monitor", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initramfs)
        .args(["-append", append])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .context("cannot start qemu-system-x86_64 (install qemu-system-x86)")?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let serial = fs::read_to_string(log).unwrap_or_default();
            let name = log.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            eprintln!("xtask: vm: guest ended ({status}) after {:.0} s ({name})", started.elapsed().as_secs_f64());
            return Ok(serial);
        }
        if started.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            bail!("the guest did not finish within {} s; serial log kept at {}", BOOT_TIMEOUT.as_secs(), log.display());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
