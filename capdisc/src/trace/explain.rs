//! Why a check was denied: the process's five sets at that moment and the configuration cause
//! they point to (the story's: CAP_NET_BIND_SERVICE outside the bounding set, so the ambient
//! capability was dropped).
use serde::Serialize;

use crate::{
    caps,
    classify::{denial_errno, Fallback},
    harden::status,
};

#[derive(Debug, Serialize)]
pub struct Explanation {
    /// What the system call returns (bind() below 1024: EACCES; most others EPERM).
    pub errno: String,
    /// The five sets by name, when the process still existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sets: Option<Sets>,
    pub cause: String,
}

#[derive(Debug, Serialize)]
pub struct Sets {
    /// `check`: read in the kernel from the credentials being checked; `proc`: the process's
    /// sets from /proc when the event was printed (kernels where struct cred was not found).
    pub source: &'static str,
    pub effective: String,
    pub permitted: String,
    pub inheritable: String,
    pub bounding: String,
    pub ambient: String,
    pub uid: u32,
}

/// The checked credentials as the kernel side read them: euid, then inheritable, permitted,
/// effective, bounding, ambient.
pub struct CredSets {
    pub euid: u32,
    pub sets: [u64; 5],
}

/// `at_check`: the credentials read in the kernel at the check; without them (an older object
/// or unreadable cred), the process's current sets from /proc. `fallback`: the check was a
/// file-permission fallback (the mode bits had refused first), which is the real cause.
pub fn explain(
    pid: u32,
    cap: u32,
    syscall: &str,
    foreign_userns: bool,
    at_check: Option<CredSets>,
    fallback: Option<Fallback>,
) -> Explanation {
    let name = caps::name(cap);
    let errno = fallback.map(|fallback| fallback.errno).unwrap_or_else(|| denial_errno(syscall)).to_owned();
    let bit = 1u64.checked_shl(cap).unwrap_or(0);
    let source = if at_check.is_some() { "check" } else { "proc" };
    let process = match at_check {
        Some(cred) => status::ProcessCaps {
            pid,
            name: String::new(),
            uids: [cred.euid; 4],
            gids: [0; 4],
            inheritable: cred.sets[0],
            permitted: cred.sets[1],
            effective: cred.sets[2],
            bounding: cred.sets[3],
            ambient: cred.sets[4],
            no_new_privs: None,
        },
        None => match status::read(pid) {
            Ok(process) => process,
            Err(_) => {
                return Explanation {
                    errno,
                    sets: None,
                    cause: format!("{name} was not in the effective set (the process has exited; its sets are gone)"),
                };
            }
        },
    };
    let root = process.uids[1] == 0;
    let cause = if let Some(fallback) = fallback {
        format!(
            "{} ({} refused it first); {name} would override it: usually not a capability to grant (the service may not need that file; or fix its owner or mode)",
            fallback.refused, fallback.caller
        )
    } else if foreign_userns {
        format!("the check was against a user namespace the process has no {name} in (a non-initial user namespace)")
    } else if process.bounding & bit == 0 {
        format!("{name} is outside the bounding set: CapabilityBoundingSet= (or the parent's bounding set) lacks it, so no ambient or file capability can grant it")
    } else if !root && process.permitted & bit == 0 {
        format!("{name} is in the bounding set, but this non-root process (uid {}) does not hold it: AmbientCapabilities={name} (or a file capability) is missing", process.uids[1])
    } else if process.permitted & bit != 0 && process.effective & bit == 0 {
        format!("{name} is permitted but not effective: the program lowered it and did not raise it for this call")
    } else {
        format!("{name} is not in the effective set")
    };
    let sets = Sets {
        source,
        effective: status::names(process.effective),
        permitted: status::names(process.permitted),
        inheritable: status::names(process.inheritable),
        bounding: status::names(process.bounding),
        ambient: status::names(process.ambient),
        uid: process.uids[1],
    };
    Explanation { errno, sets: Some(sets), cause }
}
