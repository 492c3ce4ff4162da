//! A minimal initramfs in the cpio "newc" format, written directly: busybox (static), the static
//! capdisc and workload binaries, /dev/console, and the guest's /init script. `Newc` also
//! writes the overlay archive of the systemd guest. Kept rather than a cpio crate: the newc
//! writers on crates.io are small, rarely updated, and not in the dependency tree; this one is
//! a few dozen lines, and every guest boot checks it.
use std::{fs, io::Write, path::Path};

use anyhow::{Context, Result};

const BUSYBOX: &str = "/bin/busybox";

pub fn build(binaries: &Path, output: &Path, init_script: &str) -> Result<std::path::PathBuf> {
    let mut archive = Newc::default();
    for dir in ["bin", "dev", "proc", "sys", "tmp", "root", "etc", "sys/fs", "sys/fs/cgroup", "sys/kernel", "sys/kernel/tracing"] {
        archive.entry(dir, 0o040755, &[], (0, 0));
    }
    archive.entry("dev/console", 0o020600, &[], (5, 1));
    archive.entry("init", 0o100755, init_script.as_bytes(), (0, 0));
    let busybox = fs::read(BUSYBOX).with_context(|| format!("{BUSYBOX} is missing: install busybox-static"))?;
    archive.entry("bin/busybox", 0o100755, &busybox, (0, 0));
    for (name, path) in [("bin/capdisc", binaries.join("capdisc")), ("bin/workload", binaries.join("examples/workload"))] {
        let data = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        archive.entry(name, 0o100755, &data, (0, 0));
    }
    let bytes = archive.finish();
    let mut file = fs::File::create(output)?;
    file.write_all(&bytes)?;
    Ok(output.to_path_buf())
}

#[derive(Default)]
pub struct Newc {
    bytes: Vec<u8>,
    inode: u32,
}

impl Newc {
    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, 0o120777, target.as_bytes(), (0, 0));
    }

    pub fn entry(&mut self, name: &str, mode: u32, data: &[u8], (rdev_major, rdev_minor): (u32, u32)) {
        self.inode += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let fields = [self.inode, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, rdev_major, rdev_minor, name.len() as u32 + 1, 0];
        self.bytes.extend_from_slice(b"070701");
        for field in fields {
            self.bytes.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[], (0, 0));
        self.bytes
    }
}
