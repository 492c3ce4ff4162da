//! `cargo xtask demo`: the main job on the bundled demo service. Sets everything up on a fresh
//! machine, records `capdisc-demo` (an HTTPS-style listener on port 443 that drops to a non-root
//! user keeping only the capabilities it is given), prints the table, the profile path and the
//! systemd drop-in that follows from it.
use std::process::Command;

use anyhow::{bail, Result};

use crate::{build, run::workspace, setup};

pub fn demo() -> Result<()> {
    if !setup::ready() {
        setup::setup()?;
    }
    let release = build::release()?;
    let output = workspace().join("target/demo");
    std::fs::create_dir_all(&output)?;
    let profile = output.join("capdisc-demo.yaml");
    eprintln!("xtask: demo: recording capdisc-demo (listens on :443 as user nobody with CAP_NET_BIND_SERVICE)");
    let status = Command::new(release.join("capdisc"))
        .args(["record", "-o"])
        .arg(&profile)
        .arg("--")
        .arg(release.join("capdisc-demo"))
        .args(["--user", "nobody", "--keep", "CAP_NET_BIND_SERVICE", "--port", "443", "--requests", "3", "--self-client"])
        .status()?;
    if !status.success() {
        bail!("the demo recording failed ({status})");
    }
    println!("\nThe service needs the capabilities marked `required` above; `denied` and `advisory` ones");
    println!("are evidence only. The whole profile (syscalls, call sites, commands): {}", profile.display());
    println!("\nThe systemd drop-in that follows (`capdisc generate`; `capdisc apply --unit NAME` installs it):\n");
    let status = Command::new(release.join("capdisc")).arg("generate").arg(&profile).status()?;
    if !status.success() {
        bail!("capdisc generate failed ({status})");
    }
    Ok(())
}
