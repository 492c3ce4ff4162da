//! File-permission fallbacks: capability checks the kernel makes only after the ordinary
//! permission check (the file's mode bits, owner or group) already refused. Such a check is
//! `conditional`: the capability overrides a refusal, and the service may work without it (the
//! refusal then stands: usually EACCES on a path it could live without). Source: the kernel
//! sources, fs/namei.c (`generic_permission` -> `capable_wrt_inode_uidgid` for CAP_DAC_OVERRIDE
//! and CAP_DAC_READ_SEARCH after `acl_permission_check` refused; `check_sticky`,
//! `may_linkat`/`safe_hardlink_source`), fs/inode.c (`inode_owner_or_capable` for CAP_FOWNER when
//! the caller does not own the inode; `in_group_or_capable` for CAP_FSETID when it is not in the
//! file's group), fs/attr.c (`setattr_should_drop_sgid`).

/// (the kernel function that calls the capability check, what had refused, the errno the system
/// call returns when the capability is missing too).
pub const FALLBACK_CALL_SITES: &[(&str, &str, &str)] = &[
    ("generic_permission", "the file's mode bits and owner refused the access", "EACCES"),
    ("inode_owner_or_capable", "the caller does not own the file", "EPERM"),
    ("in_group_or_capable", "the caller is not in the file's group (the set-group-id bit is cleared instead)", "EPERM"),
    ("setattr_should_drop_sgid", "the caller is not in the file's group (the set-group-id bit is cleared instead)", "EPERM"),
    ("check_sticky", "the directory is sticky and the file belongs to someone else", "EPERM"),
    ("__check_sticky", "the directory is sticky and the file belongs to someone else", "EPERM"),
    ("may_linkat", "protected hard links: the caller does not own the source file", "EPERM"),
    ("safe_hardlink_source", "protected hard links: the caller does not own the source file", "EPERM"),
];

/// Frames that only wrap the check itself; the first frame below them is its caller.
const WRAPPERS: &[&str] = &[
    "cap_capable",
    "security_capable",
    "ns_capable",
    "ns_capable_common",
    "ns_capable_noaudit",
    "ns_capable_setid",
    "capable",
    "capable_wrt_inode_uidgid",
    "privileged_wrt_inode_uidgid",
    "file_ns_capable",
    "has_capability",
    "has_ns_capability",
];

/// A fallback call site: what had refused, and the errno without the capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fallback {
    pub caller: &'static str,
    pub refused: &'static str,
    pub errno: &'static str,
}

/// The fallback a call site (frames innermost first) is, if it is one.
pub fn fallback_site(frames: &[String]) -> Option<Fallback> {
    let caller = frames.iter().find(|frame| !WRAPPERS.contains(&strip_suffix(frame)))?;
    let caller = strip_suffix(caller);
    FALLBACK_CALL_SITES.iter().find(|(site, _, _)| *site == caller).map(|(site, refused, errno)| Fallback { caller: site, refused, errno })
}

/// `generic_permission.part.0` and `.isra.0` name the same function.
fn strip_suffix(frame: &str) -> &str {
    frame.split('.').next().unwrap_or(frame)
}

/// Whether every sampled call site of a key is a fallback (a key with no sampled site is not: the
/// conservative side, it stays `required`).
pub fn all_fallbacks(call_sites: &[Vec<String>]) -> bool {
    !call_sites.is_empty() && call_sites.iter().all(|frames| fallback_site(frames).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_path_walk_refused_by_mode_bits_is_a_fallback() {
        let walk = frames(&[
            "cap_capable",
            "security_capable",
            "capable_wrt_inode_uidgid",
            "generic_permission",
            "inode_permission",
            "link_path_walk",
        ]);
        let found = fallback_site(&walk).expect("fallback");
        assert_eq!((found.caller, found.errno), ("generic_permission", "EACCES"));
        assert!(all_fallbacks(&[walk]));
    }

    #[test]
    fn a_bind_or_a_chown_is_a_need_not_a_fallback() {
        let bind = frames(&["cap_capable", "security_capable", "ns_capable", "__inet_bind", "inet_bind_sk"]);
        let chown = frames(&["cap_capable", "security_capable", "capable_wrt_inode_uidgid", "chown_ok", "notify_change"]);
        assert_eq!(fallback_site(&bind), None);
        assert_eq!(fallback_site(&chown), None, "chown to another owner is the need itself");
        assert!(!all_fallbacks(&[]), "no sampled site: stays required");
    }
}
