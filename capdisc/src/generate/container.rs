//! Container runtimes: docker/podman flags and a Kubernetes securityContext.
use super::{short_name, Recommendation};

pub fn docker(runtime: &str, recommendation: &Recommendation) -> String {
    let mut flags = vec!["--cap-drop=ALL".to_owned()];
    flags.extend(recommendation.required.iter().map(|name| format!("--cap-add={}", short_name(name))));
    if recommendation.no_new_privileges {
        flags.push("--security-opt=no-new-privileges".to_owned());
    }
    format!("# {runtime} run {} IMAGE\n{}\n", flags.join(" "), flags.join(" "))
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
