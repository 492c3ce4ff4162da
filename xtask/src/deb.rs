//! `cargo xtask deb`: capdisc as a Debian package, built with cargo-deb from what `capdisc`
//! itself generates: the static binary (the eBPF object embedded; it runs on any glibc), its man
//! pages and bash/zsh/fish completions, `capdisc-watch.service` (installed, not enabled; its
//! ExecStart at /usr/bin), the Prometheus alert rules with their promtool tests, and the
//! documentation. Installing it needs no compiler. The container outputs' guest installs, uses
//! and removes it (guest-tests/tests/outputs/package.rs).
use std::{fs, path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

use crate::{
    build, run,
    run::{cargo, workspace},
    setup,
};

/// Builds target/debian/capdisc_VERSION_amd64.deb; returns its path.
pub fn deb() -> Result<PathBuf> {
    setup::ensure_cargo_deb()?;
    let binaries = build::static_binaries()?;
    let root = workspace();
    // What the package holds, gathered where capdisc/Cargo.toml's [package.metadata.deb] looks.
    let assets = root.join("target/deb-assets");
    let _ = fs::remove_dir_all(&assets);
    for dir in ["man", "completions", "units", "debian"] {
        fs::create_dir_all(assets.join(dir))?;
    }
    let capdisc = binaries.join("capdisc");
    fs::copy(&capdisc, assets.join("capdisc")).with_context(|| format!("cannot copy {}", capdisc.display()))?;
    run::run(Command::new(&capdisc).arg("man").arg("--dir").arg(assets.join("man")))?;
    for (shell, file) in [("bash", "capdisc"), ("zsh", "_capdisc"), ("fish", "capdisc.fish")] {
        let output = Command::new(&capdisc).args(["completions", shell]).output()?;
        if !output.status.success() {
            bail!("capdisc completions {shell} failed");
        }
        fs::write(assets.join("completions").join(file), output.stdout)?;
    }
    // The unit as the package installs it: capdisc in /usr/bin, and how to enable it.
    let unit = fs::read_to_string(root.join("packaging/capdisc-watch.service"))?;
    let packaged = unit.replace("ExecStart=/usr/local/bin/capdisc ", "ExecStart=/usr/bin/capdisc ").replace(
        "Install: copy capdisc to /usr/local/bin and this file to /etc/systemd/system/,\n# then",
        "Installed by the capdisc package (not enabled):",
    );
    if !packaged.contains("ExecStart=/usr/bin/capdisc ") {
        bail!("packaging/capdisc-watch.service has no `ExecStart=/usr/local/bin/capdisc ` line to point at /usr/bin");
    }
    fs::write(assets.join("units/capdisc-watch.service"), packaged)?;
    // The maintainer scripts (cargo-deb adds its systemd snippets at #DEBHELPER#).
    for script in fs::read_dir(root.join("packaging/debian"))?.flatten() {
        fs::copy(script.path(), assets.join("debian").join(script.file_name()))?;
    }
    run::run(cargo().args(["deb", "-p", "capdisc", "--no-build", "--no-strip", "--output", "target/debian"]).current_dir(&root))?;
    let prefix = format!("capdisc_{}", env!("CARGO_PKG_VERSION"));
    let deb = fs::read_dir(root.join("target/debian"))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(&prefix) && name.to_string_lossy().ends_with("_amd64.deb"))
        })
        .with_context(|| format!("cargo deb wrote no target/debian/{prefix}*_amd64.deb"))?;
    eprintln!("xtask: deb: {}", deb.display());
    Ok(deb)
}
