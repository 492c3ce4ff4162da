//! systemd's naming rules: unit names (`app` -> `app.service`), the unit a cgroup path belongs
//! to, the cgroup path of a slice, and which `User=` values mean root.
use std::path::PathBuf;

/// `app` -> `app.service`; names with a unit suffix are kept (systemctl's rule).
pub fn unit_name(name: &str) -> String {
    if name.contains('.') {
        name.to_owned()
    } else {
        format!("{name}.service")
    }
}

/// The systemd unit a cgroup path belongs to (`/system.slice/nginx.service/x` -> nginx.service).
pub fn unit_of_cgroup_path(relative: &str) -> Option<String> {
    const UNIT_SUFFIXES: [&str; 5] = [".service", ".scope", ".socket", ".mount", ".swap"];
    relative.split('/').rev().find(|part| UNIT_SUFFIXES.iter().any(|suffix| part.ends_with(suffix))).map(str::to_owned)
}

/// `a-b.slice` -> `a.slice/a-b.slice` (systemd's slice nesting); `-.slice` is the root.
pub fn slice_path(slice: &str) -> PathBuf {
    let Some(stem) = slice.strip_suffix(".slice") else { return PathBuf::from(slice) };
    if stem == "-" || stem.is_empty() {
        return PathBuf::new();
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    path
}

/// Whether a `User=` value (or `--user`) names root. An empty value means root, as in systemd
/// (no `User=` runs the service as root).
pub fn is_root_user(user: &str) -> bool {
    matches!(user, "" | "root" | "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_slices_like_systemd() {
        assert_eq!(slice_path("system.slice"), PathBuf::from("system.slice"));
        assert_eq!(slice_path("user-1000.slice"), PathBuf::from("user.slice/user-1000.slice"));
        assert_eq!(slice_path("-.slice"), PathBuf::new());
    }

    #[test]
    fn names_the_unit_of_a_cgroup() {
        assert_eq!(unit_of_cgroup_path("/system.slice/nginx.service").as_deref(), Some("nginx.service"));
        assert_eq!(unit_of_cgroup_path("/system.slice/app.service/worker").as_deref(), Some("app.service"));
        assert_eq!(unit_of_cgroup_path("/user.slice/user-0.slice/session-1.scope").as_deref(), Some("session-1.scope"));
        assert_eq!(unit_of_cgroup_path("/capdisc-1-0"), None);
    }

    #[test]
    fn root_is_root_zero_or_unset() {
        assert!(is_root_user("root") && is_root_user("0") && is_root_user(""));
        assert!(!is_root_user("app") && !is_root_user("1000"));
    }
}
