//! Container runtimes: docker/podman flags, a compose service fragment, a podman Quadlet
//! drop-in and a Kubernetes securityContext.
use super::{short_name, Recommendation};

pub fn docker(runtime: &str, recommendation: &Recommendation) -> String {
    let mut flags = vec!["--cap-drop=ALL".to_owned()];
    flags.extend(recommendation.required.iter().map(|name| format!("--cap-add={}", short_name(name))));
    if recommendation.no_new_privileges {
        flags.push("--security-opt=no-new-privileges".to_owned());
    }
    let mut out = format!("# {runtime} run {} IMAGE\n", flags.join(" "));
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

pub fn kubernetes(recommendation: &Recommendation) -> String {
    let add: Vec<String> = recommendation.required.iter().map(|name| format!("\"{}\"", short_name(name))).collect();
    let mut out = String::from("securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n");
    out.push_str(&format!("    add: [{}]\n", add.join(", ")));
    if recommendation.no_new_privileges {
        out.push_str("  allowPrivilegeEscalation: false\n");
    }
    if recommendation.needs_ambient() && !recommendation.required.is_empty() {
        out.push_str("  # non-root: Kubernetes grants added capabilities to the effective set of a non-root\n  # container only through file capabilities or ambient support in the runtime (KEP-2763).\n");
    }
    out
}

/// The keys of a compose service (`docker compose`, `podman-compose`), to merge under
/// `services.NAME`.
pub fn compose(recommendation: &Recommendation) -> String {
    let mut out = String::from("# compose: merge under services.NAME (docker compose, podman-compose)\n");
    out.push_str(&docker_non_root("docker compose", recommendation));
    out.push_str("cap_drop:\n  - ALL\n");
    if !recommendation.required.is_empty() {
        out.push_str("cap_add:\n");
        for name in &recommendation.required {
            out.push_str(&format!("  - {}\n", short_name(name)));
        }
    }
    if recommendation.no_new_privileges {
        out.push_str("security_opt:\n  - no-new-privileges:true\n");
    }
    out
}

/// A drop-in for a podman Quadlet `.container` unit (podman 4.6+ reads `NAME.container.d/`):
/// every capability dropped, the set added. It assumes the `.container` adds none of its own
/// (Quadlet adds up `AddCapability=` lines; an empty one does not reset them).
pub fn quadlet(recommendation: &Recommendation) -> String {
    let mut out = String::from(
        "# Quadlet drop-in: /etc/containers/systemd/NAME.container.d/capdisc.conf, then systemctl daemon-reload\n[Container]\nDropCapability=all\n",
    );
    if !recommendation.required.is_empty() {
        let names: Vec<&str> = recommendation.required.iter().map(|name| short_name(name)).collect();
        out.push_str(&format!("AddCapability={}\n", names.join(" ")));
    }
    if recommendation.no_new_privileges {
        out.push_str("NoNewPrivileges=true\n");
    }
    out
}
