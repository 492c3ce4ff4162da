//! Debian kernel images: find the newest package matching a pattern, download it with apt and
//! unpack its vmlinuz (cached). Kernels of a newer suite (trixie-backports' 6.19, where every
//! backend meets) come through a private apt configuration under target/vm, so the machine's own
//! apt sources and caches are never touched.
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

impl Kernel {
    /// One of the package's modules (`drivers/net/tun.ko.xz`), uncompressed: the guests have
    /// no module tree, so a guest that needs a module loads it with `insmod`.
    pub fn module(&self, path: &str) -> Result<Vec<u8>> {
        let root = self.vmlinuz.parent().and_then(Path::parent).context("the kernel's vmlinuz has no package tree")?;
        let file = root.join("lib/modules").join(&self.release).join("kernel").join(path);
        let output = Command::new("xz").arg("-dc").arg(&file).output().with_context(|| format!("cannot run xz on {}", file.display()))?;
        if !output.status.success() {
            bail!("cannot uncompress {}: {}", file.display(), String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(output.stdout)
    }
}

/// Where a kernel package comes from.
#[derive(Clone, Copy)]
pub enum Source {
    /// The machine's own apt sources.
    System,
    /// Another suite of the machine's Debian mirror, through a private apt configuration.
    Suite(&'static str),
}

pub fn fetch(pattern: &str, source: Source, cache: &Path) -> Result<Kernel> {
    std::fs::create_dir_all(cache)?;
    let apt = match source {
        Source::System => Vec::new(),
        Source::Suite(suite) => private_apt(suite, cache)?,
    };
    let package = match newest(pattern, &apt) {
        Ok(package) => package,
        Err(_) if apt.is_empty() => {
            apt_update()?;
            newest(pattern, &apt)?
        }
        Err(err) => return Err(err),
    };
    let release = package.trim_start_matches("linux-image-").trim_start_matches("linux-binary-").to_owned();
    let unpacked = cache.join(&release);
    let vmlinuz = unpacked.join("boot").join(format!("vmlinuz-{release}"));
    if vmlinuz.exists() {
        return Ok(Kernel { release, vmlinuz });
    }
    let download = || run(Command::new("apt-get").args(&apt).args(["download", "-q", &package]).current_dir(cache));
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

fn newest(pattern: &str, apt: &[String]) -> Result<String> {
    let found = stdout(Command::new("apt-cache").args(apt).args(["search", "--names-only", pattern]))?;
    let mut names: Vec<String> = found.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_owned).collect();
    names.sort_by_key(|a| version_key(a));
    names.pop().with_context(|| format!("no Debian package matches {pattern}; is apt's list current?"))
}

/// Numbers in a package name, for version ordering (6.1.0-10 after 6.1.0-9).
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit()).filter_map(|part| part.parse().ok()).collect()
}

/// apt options for a private configuration that reads only `suite` from the machine's Debian
/// mirror (signatures checked with the machine's Debian archive keyring), its lists refreshed at
/// most once a day.
fn private_apt(suite: &str, cache: &Path) -> Result<Vec<String>> {
    let dir = cache.join(format!("apt-{suite}"));
    for sub in ["parts", "lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let mirror = super::systemd_guest::debian_mirror()?;
    std::fs::write(
        dir.join("parts").join(format!("{suite}.sources")),
        format!(
            "Types: deb\nURIs: {mirror}\nSuites: {suite}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        ),
    )?;
    let options: Vec<String> = [
        "Dir::Etc::SourceList=/dev/null".to_owned(),
        format!("Dir::Etc::SourceParts={}", dir.join("parts").display()),
        format!("Dir::State::Lists={}", dir.join("lists").display()),
        format!("Dir::Cache={}", dir.join("cache").display()),
        // apt-key does not find gpgv on its own here (seen on this machine kind); name it.
        "Apt::Key::gpgvcommand=/usr/bin/gpgv".to_owned(),
    ]
    .into_iter()
    .flat_map(|option| ["-o".to_owned(), option])
    .collect();
    let stamp = dir.join("updated");
    let fresh = std::fs::metadata(&stamp)
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age.as_secs() < 86_400));
    if !fresh {
        run(Command::new("apt-get").args(&options).args(["update", "-q"]))?;
        std::fs::write(&stamp, "")?;
    }
    Ok(options)
}
