//! Container runtimes: docker/podman flags, a compose service fragment, a podman Quadlet
//! drop-in and a Kubernetes securityContext; with the confinement a proof kept beyond
//! capabilities (`minimize --container NAME --sandbox`): its seccomp profile, a read-only root.
use std::path::Path;

use super::{seccomp::proven_calls, short_name, Recommendation};
use crate::{
    profile::confinement::{NO_NEW_PRIVILEGES, READ_ONLY, TMPFS},
    profile::{Decision, Profile},
};

/// The confinement a proof kept beyond capabilities: the seccomp profile's file (written by
/// `generate --format seccomp`), a read-only root and the directories it writes in there.
pub struct Confinement {
    /// The seccomp profile's file (beside the capdisc profile), and the command that writes it.
    seccomp: Option<(String, String)>,
    /// Proven with the container (its own trial), or the recommendation's.
    no_new_privileges: bool,
    read_only: bool,
    tmpfs: Vec<String>,
}

impl Confinement {
    pub fn of(profile: &Profile, source: &str) -> Self {
        let kept = |key: &str| {
            profile
                .verification
                .iter()
                .flat_map(|proof| &proof.container_sandbox)
                .find(|setting| setting.setting == key && setting.verdict == Decision::Kept)
                .map(|setting| setting.values.clone())
        };
        // Beside the profile: `/srv/web.yaml` -> `/srv/web.seccomp.json`.
        let file = Path::new(source).with_extension("seccomp.json").display().to_string();
        Self {
            seccomp: proven_calls(profile).map(|_| (file.clone(), format!("capdisc generate {source} --format seccomp -o {file}"))),
            no_new_privileges: kept(NO_NEW_PRIVILEGES).is_some(),
            read_only: kept(READ_ONLY).is_some(),
            tmpfs: kept(TMPFS).unwrap_or_default(),
        }
    }

    /// What to write first, as comment lines.
    fn first(&self, prefix: &str) -> String {
        match &self.seccomp {
            Some((_, command)) => format!("{prefix} the proven seccomp profile first: {command}\n"),
            None => String::new(),
        }
    }
}

pub fn docker(runtime: &str, recommendation: &Recommendation, confinement: &Confinement) -> String {
    let mut flags = vec!["--cap-drop=ALL".to_owned()];
    flags.extend(recommendation.required.iter().map(|name| format!("--cap-add={}", short_name(name))));
    if recommendation.no_new_privileges || confinement.no_new_privileges {
        flags.push("--security-opt=no-new-privileges".to_owned());
    }
    if let Some((file, _)) = &confinement.seccomp {
        flags.push(format!("--security-opt=seccomp={file}"));
    }
    if confinement.read_only {
        flags.push("--read-only".to_owned());
        // podman mounts tmpfs on /run, /tmp and /var/tmp of a read-only container itself.
        if runtime == "docker" {
            flags.extend(confinement.tmpfs.iter().map(|dir| format!("--tmpfs={dir}")));
        }
    }
    let mut out = format!("# {runtime} run {} IMAGE\n", flags.join(" "));
    out.push_str(&confinement.first("# write"));
    if runtime == "docker" {
        out.push_str(&docker_non_root("docker", recommendation));
    }
    out.push_str(&format!("{}\n", flags.join(" ")));
    out
}

/// For a non-root service that needs capabilities: docker sets no ambient set, so its container
/// user holds none of them (measured, docker 26.1 with runc 1.1: `--user 65534 --cap-drop=ALL
/// --cap-add=CHOWN --cap-add=NET_BIND_SERVICE` gives CapEff 0, CapBnd 0x401, CapAmb 0; podman
/// adds them as ambient: 0x401 in all three).
fn docker_non_root(tool: &str, recommendation: &Recommendation) -> String {
    if !recommendation.needs_ambient() || recommendation.required.is_empty() {
        return String::new();
    }
    format!(
        "# non-root: under {tool} a non-root container user holds none of these (docker sets no\n\
         # ambient capabilities): run the container as root with these flags, which bound what\n\
         # root can do, or give its binary file capabilities (--format setcap); podman adds them\n\
         # as ambient.\n"
    )
}

pub fn kubernetes(recommendation: &Recommendation, confinement: &Confinement) -> String {
    let add: Vec<String> = recommendation.required.iter().map(|name| format!("\"{}\"", short_name(name))).collect();
    let mut out = confinement.first("# put");
    if let Some((file, _)) = &confinement.seccomp {
        let name = Path::new(file).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        out.push_str(&format!("# into the kubelet's seccomp directory on every node (/var/lib/kubelet/seccomp/{name})\n"));
    }
    if confinement.read_only && !confinement.tmpfs.is_empty() {
        out.push_str(&format!("# read-only root: mount an emptyDir volume on {} (it writes there)\n", confinement.tmpfs.join(", ")));
    }
    out.push_str("securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n");
    out.push_str(&format!("    add: [{}]\n", add.join(", ")));
    if recommendation.no_new_privileges || confinement.no_new_privileges {
        out.push_str("  allowPrivilegeEscalation: false\n");
    }
    if confinement.read_only {
        out.push_str("  readOnlyRootFilesystem: true\n");
    }
    if let Some((file, _)) = &confinement.seccomp {
        let name = Path::new(file).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        out.push_str(&format!("  seccompProfile:\n    type: Localhost\n    localhostProfile: {name}\n"));
    }
    if recommendation.needs_ambient() && !recommendation.required.is_empty() {
        out.push_str("  # non-root: Kubernetes grants added capabilities to the effective set of a non-root\n  # container only through file capabilities or ambient support in the runtime (KEP-2763).\n");
    }
    out
}

/// The keys of a compose service (`docker compose`, `podman-compose`), to merge under
/// `services.NAME`.
pub fn compose(recommendation: &Recommendation, confinement: &Confinement) -> String {
    let mut out = String::from("# compose: merge under services.NAME (docker compose, podman-compose)\n");
    out.push_str(&confinement.first("# write"));
    out.push_str(&docker_non_root("docker compose", recommendation));
    out.push_str("cap_drop:\n  - ALL\n");
    if !recommendation.required.is_empty() {
        out.push_str("cap_add:\n");
        for name in &recommendation.required {
            out.push_str(&format!("  - {}\n", short_name(name)));
        }
    }
    let mut security = Vec::new();
    if recommendation.no_new_privileges || confinement.no_new_privileges {
        security.push("no-new-privileges:true".to_owned());
    }
    if let Some((file, _)) = &confinement.seccomp {
        security.push(format!("seccomp={file}"));
    }
    if !security.is_empty() {
        out.push_str("security_opt:\n");
        for option in security {
            out.push_str(&format!("  - {option}\n"));
        }
    }
    if confinement.read_only {
        out.push_str("read_only: true\n");
        if !confinement.tmpfs.is_empty() {
            out.push_str("tmpfs:\n");
            for dir in &confinement.tmpfs {
                out.push_str(&format!("  - {dir}\n"));
            }
        }
    }
    out
}

/// A drop-in for a podman Quadlet `.container` unit (podman 4.6+ reads `NAME.container.d/`):
/// every capability dropped, the set added. It assumes the `.container` adds none of its own
/// (Quadlet adds up `AddCapability=` lines; an empty one does not reset them).
pub fn quadlet(recommendation: &Recommendation, confinement: &Confinement) -> String {
    let mut out = String::from("# Quadlet drop-in: /etc/containers/systemd/NAME.container.d/capdisc.conf, then systemctl daemon-reload\n");
    out.push_str(&confinement.first("# write"));
    let seccomp_name =
        confinement.seccomp.as_ref().and_then(|(file, _)| Path::new(file).file_name()).map(|name| name.to_string_lossy().into_owned());
    if let Some(name) = &seccomp_name {
        out.push_str(&format!("# and copy it to /etc/containers/systemd/{name}\n"));
    }
    out.push_str("[Container]\nDropCapability=all\n");
    if !recommendation.required.is_empty() {
        let names: Vec<&str> = recommendation.required.iter().map(|name| short_name(name)).collect();
        out.push_str(&format!("AddCapability={}\n", names.join(" ")));
    }
    if recommendation.no_new_privileges || confinement.no_new_privileges {
        out.push_str("NoNewPrivileges=true\n");
    }
    if let Some(name) = &seccomp_name {
        out.push_str(&format!("SeccompProfile=/etc/containers/systemd/{name}\n"));
    }
    if confinement.read_only {
        // podman mounts tmpfs on /run, /tmp and /var/tmp of a read-only container itself.
        out.push_str("ReadOnly=true\n");
    }
    out
}
