//! Debian kernel images: find the newest package matching a pattern, download it with apt and
//! unpack its vmlinuz (cached).
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::{
    run::{run, stdout},
    setup::apt_update,
};

pub struct Kernel {
    pub release: String,
    pub vmlinuz: PathBuf,
}

pub fn fetch(pattern: &str, cache: &Path) -> Result<Kernel> {
    std::fs::create_dir_all(cache)?;
    let package = match newest(pattern) {
        Ok(package) => package,
        Err(_) => {
            apt_update()?;
            newest(pattern)?
        }
    };
    let release = package.trim_start_matches("linux-image-").to_owned();
    let unpacked = cache.join(&release);
    let vmlinuz = unpacked.join("boot").join(format!("vmlinuz-{release}"));
    if vmlinuz.exists() {
        return Ok(Kernel { release, vmlinuz });
    }
    let download = || run(Command::new("apt-get").args(["download", "-q", &package]).current_dir(cache));
    if download().is_err() {
        eprintln!("xtask: vm: apt-get download {package} failed; trying once more");
        download()?;
    }
    let deb = std::fs::read_dir(cache)?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with(&format!("{package}_"))))
        .with_context(|| format!("apt-get download left no .deb for {package}"))?;
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    if !vmlinuz.exists() {
        bail!("{} has no {}", deb.display(), vmlinuz.display());
    }
    Ok(Kernel { release, vmlinuz })
}

fn newest(pattern: &str) -> Result<String> {
    let found = stdout(Command::new("apt-cache").args(["search", "--names-only", pattern]))?;
    let mut names: Vec<String> = found.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_owned).collect();
    names.sort_by_key(|a| version_key(a));
    names.pop().with_context(|| format!("no Debian package matches {pattern}; is apt's list current?"))
}

/// Numbers in a package name, for version ordering (6.1.0-10 after 6.1.0-9).
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit()).filter_map(|part| part.parse().ok()).collect()
}
