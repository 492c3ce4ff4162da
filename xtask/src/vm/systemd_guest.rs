//! The systemd guests: Debian root filesystems (debootstrap, cached) packed as an initramfs with
//! systemd as PID 1, plus an overlay archive carrying the static capdisc, the guest tests
//! (guest-tests/, one binary per suite) and capdisc-guest-run, which the guest's one unit
//! starts. The story's guest (bookworm, podman 4.3) carries the story's units (the demo service
//! as `app.service`...) and a unit recording every service from early boot, and runs the
//! `story` and `containers` suites; the outputs guest (trixie: podman 5 with Quadlet and
//! podman-compose, docker) runs the `outputs` suite: the container formats `generate` writes,
//! docker, rootless podman and the Debian package. The kernel unpacks both archives, the
//! overlay last.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use super::initramfs::Newc;
use crate::run::run;

/// A guest's root filesystem: its Debian suite and the packages debootstrap adds to minbase.
pub struct Guest {
    pub name: &'static str,
    suite: &'static str,
    packages: &'static str,
}

/// The story's guest.
pub const STORY: Guest = Guest {
    name: "bookworm-systemd",
    suite: "bookworm",
    packages: "systemd,systemd-sysv,dbus,iproute2,procps,curl,libcap2-bin,nginx-light,cron,python3,openssh-server,chrony,dnsmasq,rsyslog,podman,crun,containernetworking-plugins",
};

/// The guest that runs `generate`'s container outputs with the tools that read them.
pub const OUTPUTS: Guest = Guest {
    name: "trixie-containers",
    suite: "trixie",
    packages: "systemd,systemd-sysv,dbus,procps,bash,podman,crun,podman-compose,netavark,catatonit,man-db,curl,bash-completion,init-system-helpers,uidmap,passt,slirp4netns,dbus-user-session,kmod,docker.io,docker-cli",
};

/// The guest's user for the story's service.
const APP_UID: u32 = 990;

/// The guest's tree, made once with debootstrap (about 100 s), and its packed archive.
pub fn base_archive(dir: &Path, guest: &Guest) -> Result<(PathBuf, PathBuf)> {
    let tree = dir.join(guest.name);
    let archive = dir.join(format!("{}.cpio", guest.name));
    // The marker holds the package list the tree was made with: another list makes a new tree.
    let complete = tree.join(".capdisc-complete");
    if fs::read_to_string(&complete).ok().as_deref() != Some(guest.packages) {
        let partial = dir.join(format!("{}.tmp", guest.name));
        let _ = fs::remove_dir_all(&partial);
        let mirror = debian_mirror()?;
        eprintln!("xtask: vm: debootstrap {} (minbase + {}) from the machine's apt mirror", guest.suite, guest.packages);
        let debootstrap = || {
            run(Command::new("debootstrap")
                .args(["--variant=minbase", &format!("--include={}", guest.packages), guest.suite])
                .arg(&partial)
                .arg(&mirror))
        };
        if debootstrap().is_err() {
            eprintln!("xtask: vm: debootstrap failed; trying once more");
            let _ = fs::remove_dir_all(&partial);
            debootstrap()?;
        }
        let _ = fs::remove_dir_all(&tree);
        fs::rename(&partial, &tree)?;
        fs::write(&complete, guest.packages)?;
        let _ = fs::remove_file(&archive);
    }
    if !archive.exists() {
        // Without the packages debootstrap downloaded (installed already; 145 MB in trixie's).
        eprintln!("xtask: vm: packing {}", tree.display());
        let partial = dir.join(format!("{}.cpio.tmp", guest.name));
        run(Command::new("sh").arg("-c").arg(format!(
            "cd '{}' && find . \\( -path ./.capdisc-complete -o -path './var/cache/apt/archives/*.deb' \\) -prune -o -print0 | cpio --null -o -H newc --quiet > '{}'",
            tree.display(),
            partial.display()
        )))?;
        fs::rename(&partial, &archive)?;
    }
    Ok((tree, archive))
}

/// What every guest's overlay holds: capdisc and the workload, the guest tests' runner and
/// binaries (`tests`: suite and executable), podman's settings for an initramfs root, the one
/// unit the guest starts (which runs the tests), and no console logins.
fn common_overlay(binaries: &Path, tests: &[(String, PathBuf)], unit: (&str, &[u8])) -> Result<Newc> {
    let mut archive = Newc::default();
    for dir in ["usr/local/bin", "etc/containers", "etc/systemd/system/multi-user.target.wants"] {
        archive.entry(dir, 0o040755, &[], (0, 0));
    }
    for (name, source) in [
        ("usr/local/bin/capdisc", "capdisc"),
        ("usr/local/bin/capdisc-workload", "examples/workload"),
        ("usr/local/bin/capdisc-guest-run", "capdisc-guest-run"),
    ] {
        let path = binaries.join(source);
        archive.entry(name, 0o100755, &fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?, (0, 0));
    }
    archive.entry("usr/local/lib/capdisc", 0o040755, &[], (0, 0));
    archive.entry("usr/local/lib/capdisc/tests", 0o040755, &[], (0, 0));
    for (suite, path) in tests {
        let binary = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        archive.entry(&format!("usr/local/lib/capdisc/tests/{suite}"), 0o100755, &binary, (0, 0));
    }
    // An initramfs root cannot be pivot_root'ed (crun: `pivot_root: Invalid argument`).
    archive.entry("etc/containers/containers.conf", 0o100644, b"[engine]\nno_pivot_root = true\n", (0, 0));
    // The cloud kernel's overlay module is not in the guest: images are plain copies.
    archive.entry(
        "etc/containers/storage.conf",
        0o100644,
        b"[storage]\ndriver = \"vfs\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n",
        (0, 0),
    );
    archive.entry(&format!("etc/systemd/system/{}", unit.0), 0o100644, unit.1, (0, 0));
    archive.symlink(&format!("etc/systemd/system/multi-user.target.wants/{}", unit.0), &format!("/etc/systemd/system/{}", unit.0));
    // No console logins (dev-ttyS0.device never appears here, and they would hold up boot),
    // and no first-boot prompts.
    for masked in ["serial-getty@ttyS0.service", "getty@tty1.service", "systemd-firstboot.service"] {
        archive.symlink(&format!("etc/systemd/system/{masked}"), "/dev/null");
    }
    archive.entry("etc/hostname", 0o100644, b"capdisc-guest\n", (0, 0));
    Ok(archive)
}

/// The outputs guest's overlay: the common part with its tests (`tests`), docker's settings,
/// the tun module for rootless podman, and capdisc's Debian package.
pub fn outputs_overlay(binaries: &Path, deb: &Path, tun: &[u8], tests: &[(String, PathBuf)]) -> Result<Vec<u8>> {
    let mut archive = common_overlay(binaries, tests, ("capdisc-outputs.service", include_bytes!("guest/capdisc-outputs.service")))?;
    archive.entry("root", 0o040700, &[], (0, 0));
    archive.entry("root/capdisc.deb", 0o100644, &fs::read(deb).with_context(|| format!("cannot read {}", deb.display()))?, (0, 0));
    // docker in an initramfs root: no overlay or bridge module in the guest (images are plain
    // copies, containers use the host's network), and runc cannot pivot_root (DOCKER_RAMDISK).
    for dir in ["etc/docker", "etc/systemd/system/docker.service.d"] {
        archive.entry(dir, 0o040755, &[], (0, 0));
    }
    archive.entry(
        "etc/docker/daemon.json",
        0o100644,
        b"{\"storage-driver\": \"vfs\", \"bridge\": \"none\", \"iptables\": false, \"ip6tables\": false}\n",
        (0, 0),
    );
    archive.entry("etc/systemd/system/docker.service.d/ramdisk.conf", 0o100644, b"[Service]\nEnvironment=DOCKER_RAMDISK=true\n", (0, 0));
    archive.entry("usr/local/lib/capdisc/tun.ko", 0o100644, tun, (0, 0));
    Ok(archive.finish())
}

/// The story guest's overlay: the common part with the story's tests (`tests`), the story's
/// units, the app user and the container steps.
pub fn overlay(binaries: &Path, tree: &Path, tests: &[(String, PathBuf)]) -> Result<Vec<u8>> {
    let mut archive = common_overlay(binaries, tests, ("capdisc-story.service", include_bytes!("guest/capdisc-story.service")))?;
    for dir in ["etc/capdisc", "etc/systemd/system/sysinit.target.wants", "var/lib"] {
        archive.entry(dir, 0o040755, &[], (0, 0));
    }
    let demo = binaries.join("capdisc-demo");
    archive.entry(
        "usr/local/bin/capdisc-demo",
        0o100755,
        &fs::read(&demo).with_context(|| format!("cannot read {}", demo.display()))?,
        (0, 0),
    );
    archive.entry("etc/systemd/system/app.service", 0o100644, include_bytes!("guest/app.service"), (0, 0));
    archive.entry("etc/capdisc/app.service", 0o100644, include_bytes!("guest/app-story-fix.service"), (0, 0));
    archive.entry("etc/systemd/system/api.service", 0o100644, include_bytes!("guest/api.service"), (0, 0));
    archive.entry("etc/systemd/system/app-grow.service", 0o100644, include_bytes!("guest/app-grow.service"), (0, 0));
    archive.entry("etc/capdisc/api.service", 0o100644, include_bytes!("guest/api-handfix.service"), (0, 0));
    archive.entry("etc/systemd/system/capdisc-all.service", 0o100644, include_bytes!("guest/capdisc-all.service"), (0, 0));
    // The shipped unit itself, as users install it (started by the story, step 12).
    archive.entry("etc/systemd/system/capdisc-watch.service", 0o100644, include_bytes!("../../../packaging/capdisc-watch.service"), (0, 0));
    archive.entry("etc/systemd/system/creep.service", 0o100644, include_bytes!("guest/creep.service"), (0, 0));
    archive.entry("etc/systemd/system/reload-kill.service", 0o100644, include_bytes!("guest/reload-kill.service"), (0, 0));
    archive.entry("etc/systemd/system/rotate.service", 0o100644, include_bytes!("guest/rotate.service"), (0, 0));
    archive.symlink("etc/systemd/system/sysinit.target.wants/capdisc-all.service", "/etc/systemd/system/capdisc-all.service");
    // dnsmasq (hardened by the hardening suite) answers on the loopback only: the containers'
    // networks keep their own port 53.
    archive.entry("etc/dnsmasq.d", 0o040755, &[], (0, 0));
    archive.entry("etc/dnsmasq.d/capdisc.conf", 0o100644, b"interface=lo\nbind-interfaces\n", (0, 0));
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
    Ok(archive.finish())
}

/// A guest's initramfs: its cached base archive followed by this run's overlay with its `tests`
/// (the story's, or the outputs guest's, which carries `deb` and the tun module).
pub fn image(dir: &Path, binaries: &Path, guest: &Guest, deb: Option<(&Path, &[u8])>, tests: &[(String, PathBuf)]) -> Result<PathBuf> {
    let (tree, base) = base_archive(dir, guest)?;
    let image = dir.join(format!("{}-guest.cpio", guest.name));
    let mut bytes = fs::read(&base)?;
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes.extend(match deb {
        Some((deb, tun)) => outputs_overlay(binaries, deb, tun, tests)?,
        None => overlay(binaries, &tree, tests)?,
    });
    fs::write(&image, bytes)?;
    Ok(image)
}

/// The suite this machine's apt sources name (their mirror carries every suite).
const MIRROR_SUITE: &str = "bookworm";

/// The Debian mirror this machine's apt uses (so the guests come from the same registry).
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
            if field("Suites:").is_some_and(|suites| suites.split_whitespace().any(|suite| suite == MIRROR_SUITE)) {
                if let Some(uri) = field("URIs:").and_then(|uris| uris.split_whitespace().next()) {
                    return Ok(uri.to_owned());
                }
            }
        }
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 3 && words[0] == "deb" && words.contains(&MIRROR_SUITE) {
                if let Some(uri) = words.iter().find(|word| word.contains("://")) {
                    return Ok((*uri).to_owned());
                }
            }
        }
    }
    bail!("no apt source for {MIRROR_SUITE} in /etc/apt; debootstrap needs a Debian mirror")
}
