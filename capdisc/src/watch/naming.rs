//! What `watch` calls a target, and which target a cgroup belongs to. Targets are named as an
//! SRE names services: the systemd unit (`nginx.service`, `docker-1f2e.scope`), the cgroup path
//! for `--cgroup`, and under `--all` every cgroup is attributed to the innermost unit holding it.
use crate::systemd::{unit_name, unit_of_cgroup_path};

/// What one `watch` argument selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `--unit NAME`: every cgroup of the unit, whichever cgroup a restart gives it.
    Unit(String),
    /// `--cgroup PATH`: the subtree at this path (relative to the cgroup v2 mount, `/a/b`).
    Cgroup(String),
    /// `--all`: every cgroup, each attributed to its unit.
    All,
}

impl Selector {
    pub fn unit(name: &str) -> Self {
        Selector::Unit(unit_name(name))
    }

    /// The target a cgroup path (`/system.slice/app.service/sub`) belongs to under this
    /// selector, if any.
    pub fn target_of(&self, path: &str) -> Option<String> {
        match self {
            Selector::Unit(name) => path.split('/').any(|part| part == name).then(|| name.clone()),
            Selector::Cgroup(root) => {
                (path == root || path.strip_prefix(root.as_str()).is_some_and(|rest| rest.starts_with('/'))).then(|| root.clone())
            }
            Selector::All => Some(host_target_of(path)),
        }
    }
}

/// Under `--all`: the innermost unit of a cgroup path, with the names that would grow without
/// bound folded: a login session counts to its user's slice (`session-4.scope` ->
/// `user-1000.slice`), transient `systemd-run` units to one name per kind (`run-*.service`);
/// a user manager's units keep its name (`user@1000.service/foo.service`). Cgroups outside any
/// unit count to their slice, and the root cgroup (kernel threads) is `-.slice`.
pub fn host_target_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let Some(unit) = unit_of_cgroup_path(path) else {
        return parts.iter().rev().find(|part| part.ends_with(".slice")).map_or_else(|| "-.slice".to_owned(), |slice| (*slice).to_owned());
    };
    if unit.starts_with("session-") && unit.ends_with(".scope") {
        if let Some(slice) = parts.iter().rev().find(|part| part.starts_with("user-") && part.ends_with(".slice")) {
            return (*slice).to_owned();
        }
    }
    let unit = fold_transient(&unit);
    match parts.iter().find(|part| part.starts_with("user@") && part.ends_with(".service")) {
        Some(manager) if *manager != unit.as_str() => format!("{manager}/{unit}"),
        _ => unit,
    }
}

/// `run-u12.service`, `run-r3f0c....scope`, `run-p42-i43.service` (systemd-run's generated
/// names) -> `run-*.service` / `run-*.scope`.
fn fold_transient(unit: &str) -> String {
    let Some((stem, suffix)) = unit.rsplit_once('.') else { return unit.to_owned() };
    let generated = stem
        .strip_prefix("run-")
        .and_then(|rest| rest.strip_prefix(['u', 'r', 'p']))
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '-' || c == 'i'));
    if generated {
        format!("run-*.{suffix}")
    } else {
        unit.to_owned()
    }
}

/// A file name for a target's profile in the state directory: the name itself where it is
/// safe, bytes outside `[A-Za-z0-9._@:+=-]` as `%XX` (so `/system.slice/x` stays one file).
pub fn file_name(target: &str) -> String {
    let mut name = String::new();
    for byte in target.bytes() {
        if byte.is_ascii_alphanumeric() || b"._@:+=-".contains(&byte) {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    if name.starts_with('.') {
        name.replace_range(0..1, "%2E");
    }
    format!("{name}.yaml")
}

/// The target a state file was written for (the inverse of [`file_name`]).
pub fn target_of_file(file: &str) -> Option<String> {
    let stem = file.strip_suffix(".yaml")?;
    let mut bytes = Vec::new();
    let mut rest = stem.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok().filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_host_cgroups_by_their_unit() {
        assert_eq!(host_target_of("/system.slice/nginx.service"), "nginx.service");
        assert_eq!(host_target_of("/system.slice/docker-1f2e.scope"), "docker-1f2e.scope");
        assert_eq!(host_target_of("/system.slice/app.service/worker"), "app.service");
        assert_eq!(host_target_of("/user.slice/user-1000.slice/session-4.scope"), "user-1000.slice");
        assert_eq!(host_target_of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"), "user@1000.service/foo.service");
        assert_eq!(host_target_of("/user.slice/user-1000.slice/user@1000.service/init.scope"), "user@1000.service/init.scope");
        assert_eq!(host_target_of("/system.slice/run-u12.service"), "run-*.service");
        assert_eq!(host_target_of("/system.slice/run-r3f0c9a.scope"), "run-*.scope");
        assert_eq!(host_target_of("/system.slice/run-parts.service"), "run-parts.service");
        assert_eq!(host_target_of("/init.scope"), "init.scope");
        assert_eq!(host_target_of("/machine.slice"), "machine.slice");
        assert_eq!(host_target_of("/"), "-.slice");
    }

    #[test]
    fn selectors_attribute_only_their_cgroups() {
        let unit = Selector::unit("app");
        assert_eq!(unit.target_of("/system.slice/app.service"), Some("app.service".into()));
        assert_eq!(unit.target_of("/system.slice/app.service/x"), Some("app.service".into()));
        assert_eq!(unit.target_of("/system.slice/app.service2"), None);
        let cgroup = Selector::Cgroup("/test/a".into());
        assert_eq!(cgroup.target_of("/test/a"), Some("/test/a".into()));
        assert_eq!(cgroup.target_of("/test/a/b"), Some("/test/a".into()));
        assert_eq!(cgroup.target_of("/test/ab"), None);
    }

    #[test]
    fn file_names_are_one_safe_component() {
        assert_eq!(file_name("nginx.service"), "nginx.service.yaml");
        assert_eq!(file_name("/test/a"), "%2Ftest%2Fa.yaml");
        assert_eq!(file_name("user@1000.service/foo.service"), "user@1000.service%2Ffoo.service.yaml");
        assert_eq!(file_name("run-*.scope"), "run-%2A.scope.yaml");
        assert_eq!(file_name(".."), "%2E..yaml");
        for name in ["nginx.service", "/test/a", "user@1000.service/foo.service", "run-*.scope", "..", "-.slice"] {
            assert_eq!(target_of_file(&file_name(name)).as_deref(), Some(name));
        }
        assert_eq!(target_of_file("%zz.yaml"), None);
    }
}
