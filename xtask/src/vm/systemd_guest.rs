//! The systemd guest: a Debian bookworm root filesystem (debootstrap, cached) packed as an
//! initramfs with systemd as PID 1, plus an overlay archive carrying the static capdisc, the
//! demo service as the story's `app.service`, a unit recording every service from early boot,
//! and the story script (guest/story.sh). The kernel unpacks both archives, the overlay last.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use super::initramfs::Newc;
use crate::run::run;

const PACKAGES: &str = "systemd,systemd-sysv,dbus,iproute2,procps,curl,libcap2-bin,nginx-light,cron,python3,openssh-server,chrony,podman,crun,containernetworking-plugins";
const SUITE: &str = "bookworm";
/// The guest's user for the story's service.
const APP_UID: u32 = 990;

/// The bookworm tree, made once with debootstrap (about 100 s), and its packed archive.
pub fn base_archive(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let tree = dir.join("bookworm-systemd");
    let archive = dir.join("bookworm-systemd.cpio");
    // The marker holds the package list the tree was made with: another list makes a new tree.
    let complete = tree.join(".capdisc-complete");
    if fs::read_to_string(&complete).ok().as_deref() != Some(PACKAGES) {
        let partial = dir.join("bookworm-systemd.tmp");
        let _ = fs::remove_dir_all(&partial);
        let mirror = debian_mirror()?;
        eprintln!("xtask: vm: debootstrap {SUITE} (minbase + {PACKAGES}) from the machine's apt mirror");
        let debootstrap = || {
            run(Command::new("debootstrap").args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE]).arg(&partial).arg(&mirror))
        };
        if debootstrap().is_err() {
            eprintln!("xtask: vm: debootstrap failed; trying once more");
            let _ = fs::remove_dir_all(&partial);
            debootstrap()?;
        }
        let _ = fs::remove_dir_all(&tree);
        fs::rename(&partial, &tree)?;
        fs::write(&complete, PACKAGES)?;
        let _ = fs::remove_file(&archive);
    }
    if !archive.exists() {
        eprintln!("xtask: vm: packing {}", tree.display());
        let partial = dir.join("bookworm-systemd.cpio.tmp");
        run(Command::new("sh").arg("-c").arg(format!(
            "cd '{}' && find . -path ./.capdisc-complete -prune -o -print0 | cpio --null -o -H newc --quiet > '{}'",
            tree.display(),
            partial.display()
        )))?;
        fs::rename(&partial, &archive)?;
    }
    Ok((tree, archive))
}

/// The overlay: binaries, units, the app user, masks, and the story script.
pub fn overlay(binaries: &Path, tree: &Path) -> Result<Vec<u8>> {
    let mut archive = Newc::default();
    for dir in [
        "usr/local/bin",
        "etc/capdisc",
        "etc/containers",
        "etc/systemd/system/sysinit.target.wants",
        "etc/systemd/system/multi-user.target.wants",
        "var/lib",
    ] {
        archive.entry(dir, 0o040755, &[], (0, 0));
    }
    for (name, source) in [
        ("usr/local/bin/capdisc", "capdisc"),
        ("usr/local/bin/capdisc-demo", "capdisc-demo"),
        ("usr/local/bin/capdisc-workload", "examples/workload"),
    ] {
        let path = binaries.join(source);
        archive.entry(name, 0o100755, &fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?, (0, 0));
    }
    archive.entry("usr/local/bin/capdisc-story", 0o100755, include_bytes!("guest/story.sh"), (0, 0));
    archive.entry("usr/local/bin/capdisc-containers", 0o100755, include_bytes!("guest/containers.sh"), (0, 0));
    // An initramfs root cannot be pivot_root'ed (crun: `pivot_root: Invalid argument`).
    archive.entry("etc/containers/containers.conf", 0o100644, b"[engine]\nno_pivot_root = true\n", (0, 0));
    // The cloud kernel's overlay module is not in the guest: images are plain copies.
    archive.entry(
        "etc/containers/storage.conf",
        0o100644,
        b"[storage]\ndriver = \"vfs\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n",
        (0, 0),
    );
    archive.entry("etc/systemd/system/app.service", 0o100644, include_bytes!("guest/app.service"), (0, 0));
    archive.entry("etc/capdisc/app.service", 0o100644, include_bytes!("guest/app-story-fix.service"), (0, 0));
    archive.entry("etc/systemd/system/api.service", 0o100644, include_bytes!("guest/api.service"), (0, 0));
    archive.entry("etc/systemd/system/app-grow.service", 0o100644, include_bytes!("guest/app-grow.service"), (0, 0));
    archive.entry("etc/capdisc/api.service", 0o100644, include_bytes!("guest/api-handfix.service"), (0, 0));
    archive.entry("etc/systemd/system/capdisc-all.service", 0o100644, include_bytes!("guest/capdisc-all.service"), (0, 0));
    archive.entry("etc/systemd/system/capdisc-story.service", 0o100644, include_bytes!("guest/capdisc-story.service"), (0, 0));
    // The shipped unit itself, as users install it (started by the story, step 12).
    archive.entry("etc/systemd/system/capdisc-watch.service", 0o100644, include_bytes!("../../../packaging/capdisc-watch.service"), (0, 0));
    archive.entry("etc/systemd/system/creep.service", 0o100644, include_bytes!("guest/creep.service"), (0, 0));
    archive.entry("etc/systemd/system/reload-kill.service", 0o100644, include_bytes!("guest/reload-kill.service"), (0, 0));
    archive.entry("etc/systemd/system/rotate.service", 0o100644, include_bytes!("guest/rotate.service"), (0, 0));
    archive.symlink("etc/systemd/system/sysinit.target.wants/capdisc-all.service", "/etc/systemd/system/capdisc-all.service");
    archive.symlink("etc/systemd/system/multi-user.target.wants/capdisc-story.service", "/etc/systemd/system/capdisc-story.service");
    // No console logins (dev-ttyS0.device never appears here, and they would hold up boot),
    // and no first-boot prompts.
    for masked in ["serial-getty@ttyS0.service", "getty@tty1.service", "systemd-firstboot.service"] {
        archive.symlink(&format!("etc/systemd/system/{masked}"), "/dev/null");
    }
    for (file, line) in [
        ("etc/passwd", format!("app:x:{APP_UID}:{APP_UID}:capdisc demo:/nonexistent:/usr/sbin/nologin\n")),
        ("etc/group", format!("app:x:{APP_UID}:\n")),
    ] {
        let mut text = fs::read_to_string(tree.join(file)).with_context(|| format!("{file} missing from the guest tree"))?;
        if !text.contains("\napp:") {
            text.push_str(&line);
        }
        archive.entry(file, 0o100644, text.as_bytes(), (0, 0));
    }
    archive.entry("etc/hostname", 0o100644, b"capdisc-guest\n", (0, 0));
    Ok(archive.finish())
}

/// The guest's initramfs: the cached base archive followed by this run's overlay.
pub fn image(dir: &Path, binaries: &Path) -> Result<PathBuf> {
    let (tree, base) = base_archive(dir)?;
    let image = dir.join("systemd-guest.cpio");
    let mut bytes = fs::read(&base)?;
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes.extend(overlay(binaries, &tree)?);
    fs::write(&image, bytes)?;
    Ok(image)
}

/// The Debian mirror this machine's apt uses (so the guest comes from the same registry).
pub fn debian_mirror() -> Result<String> {
    let mut texts = Vec::new();
    for path in ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"] {
        if let Ok(text) = fs::read_to_string(path) {
            texts.push(text);
        }
    }
    for text in &texts {
        for block in text.split("\n\n") {
            let field = |key: &str| block.lines().find_map(|line| line.trim().strip_prefix(key).map(str::trim));
            if field("Suites:").is_some_and(|suites| suites.split_whitespace().any(|suite| suite == SUITE)) {
                if let Some(uri) = field("URIs:").and_then(|uris| uris.split_whitespace().next()) {
                    return Ok(uri.to_owned());
                }
            }
        }
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 3 && words[0] == "deb" && words.contains(&SUITE) {
                if let Some(uri) = words.iter().find(|word| word.contains("://")) {
                    return Ok((*uri).to_owned());
                }
            }
        }
    }
    bail!("no apt source for {SUITE} in /etc/apt; debootstrap needs a Debian mirror")
}
