//! Running a spawned command as another user, the way systemd's `User=`/`Group=` does, so the
//! recording sees the service's own checks and not those of a wrapper such as `setpriv`: the
//! user and groups are resolved before the fork, and the switch happens between fork and exec
//! (its CAP_SETUID/CAP_SETGID checks are set-up, skipped by the exec gate). Capabilities are
//! dropped as for a non-root `User=`; `--ambient CAPS` keeps those as ambient, as
//! `AmbientCapabilities=` does.
use std::{ffi::CString, io};

use crate::{caps, error::Error};

/// Who to run the command as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Capabilities kept as ambient (a mask).
    pub ambient: u64,
    /// For messages: `app:app`.
    pub label: String,
    /// HOME, USER, LOGNAME and SHELL of the user, as systemd sets them for `User=`.
    pub environment: Vec<(String, String)>,
}

impl RunAs {
    /// `USER[:GROUP]` (names or numbers) and the `--ambient` list (`CAP_NET_BIND_SERVICE,...`).
    pub fn parse(spec: &str, ambient: &[String]) -> Result<Self, Error> {
        let (user, group) = match spec.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (spec, None),
        };
        let (uid, primary_gid, entry) = lookup_user(user)?;
        let gid = match group {
            Some(group) => lookup_group(group)?,
            None => primary_gid,
        };
        let groups = match &entry {
            Some(entry) => group_list(&entry.name, gid)?,
            None => vec![gid],
        };
        let name = entry.as_ref().map(|entry| entry.name.clone());
        // What systemd sets for `User=` (systemd.exec(5), "Environment variables in spawned
        // processes"): the command sees its user's home, not capdisc's /root.
        let environment = match &entry {
            Some(entry) => vec![
                ("HOME".to_owned(), entry.home.clone()),
                ("USER".to_owned(), entry.name.clone()),
                ("LOGNAME".to_owned(), entry.name.clone()),
                ("SHELL".to_owned(), entry.shell.clone()),
            ],
            None => vec![("HOME".to_owned(), "/".to_owned())],
        };
        let mut mask = 0u64;
        for word in ambient.iter().flat_map(|list| list.split([',', ' '])).filter(|word| !word.is_empty()) {
            let number = caps::parse_name(word).map_err(|err| Error::Usage(format!("--ambient: {err}")))?;
            mask |= 1 << number;
        }
        Ok(Self { uid, gid, groups, ambient: mask, label: format!("{}:{gid}", name.unwrap_or_else(|| uid.to_string())), environment })
    }

    /// Switches this (forked, not yet exec'd) process to the user. Only async-signal-safe calls.
    ///
    /// # Safety
    /// Call only between fork and exec.
    pub unsafe fn switch(&self) -> io::Result<()> {
        let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) };
        unsafe {
            if self.ambient != 0 {
                check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0))?;
            }
            check(libc::setgroups(self.groups.len(), self.groups.as_ptr()))?;
            check(libc::setresgid(self.gid, self.gid, self.gid))?;
            check(libc::setresuid(self.uid, self.uid, self.uid))?;
            if self.ambient != 0 {
                // Ambient capabilities must be permitted and inheritable (capabilities(7)).
                let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
                let low = self.ambient as u32;
                let high = (self.ambient >> 32) as u32;
                let data = [
                    CapData { effective: low, permitted: low, inheritable: low },
                    CapData { effective: high, permitted: high, inheritable: high },
                ];
                check(libc::syscall(libc::SYS_capset, &header, data.as_ptr()) as libc::c_int)?;
                for cap in 0..64u64 {
                    if self.ambient & (1 << cap) != 0 {
                        check(libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap, 0, 0))?;
                    }
                }
            }
        }
        Ok(())
    }
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A user's passwd entry, as systemd's `User=` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// The passwd entry of a uid, if it has one (the one place capdisc reads passwd by uid).
pub fn passwd_of_uid(uid: u32) -> Option<Passwd> {
    passwd_from(unsafe { libc::getpwuid(uid) })
}

fn passwd_from(entry: *const libc::passwd) -> Option<Passwd> {
    if entry.is_null() {
        return None;
    }
    // SAFETY: getpw* returned a valid entry; its fields are read at once, before any other call
    // that could reuse it.
    unsafe {
        let entry = &*entry;
        let text = |field: *const libc::c_char| {
            if field.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(field).to_string_lossy().into_owned()
            }
        };
        Some(Passwd {
            name: text(entry.pw_name),
            uid: entry.pw_uid,
            gid: entry.pw_gid,
            home: text(entry.pw_dir),
            shell: text(entry.pw_shell),
        })
    }
}

/// The passwd entry of a user name or number; a bare number without one is still a uid (its
/// group: the same number).
fn lookup_user(user: &str) -> Result<(u32, u32, Option<Passwd>), Error> {
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd_of_uid(uid),
        Err(_) => {
            let name = CString::new(user).map_err(|_| Error::Usage(format!("--user {user:?} is not a user name")))?;
            passwd_from(unsafe { libc::getpwnam(name.as_ptr()) })
        }
    };
    match (entry, user.parse::<u32>()) {
        (Some(entry), _) => Ok((entry.uid, entry.gid, Some(entry))),
        (None, Ok(uid)) => Ok((uid, uid, None)),
        (None, Err(_)) => Err(Error::Usage(format!("--user: no user `{user}` on this host (see /etc/passwd)"))),
    }
}

fn lookup_group(group: &str) -> Result<u32, Error> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let name = CString::new(group).map_err(|_| Error::Usage(format!("--user: {group:?} is not a group name")))?;
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(Error::Usage(format!("--user: no group `{group}` on this host (see /etc/group)")));
    }
    Ok(unsafe { (*entry).gr_gid })
}

/// The user's supplementary groups with `gid` first, as initgroups(3) would set them.
fn group_list(name: &str, gid: u32) -> Result<Vec<u32>, Error> {
    let user = CString::new(name).map_err(|_| Error::Usage(format!("--user: {name:?} is not a user name")))?;
    let mut count: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; count as usize];
        let before = count;
        let rc = unsafe { libc::getgrouplist(user.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(count as usize);
            return Ok(groups);
        }
        if count <= before {
            count = before * 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_users_groups_and_ambient_names() {
        let nobody = RunAs::parse("nobody", &["CAP_NET_BIND_SERVICE".into()]).expect("nobody exists");
        assert_eq!(nobody.uid, 65534);
        assert_eq!(nobody.ambient, 1 << 10);
        assert!(nobody.environment.contains(&("USER".to_owned(), "nobody".to_owned())), "{:?}", nobody.environment);
        assert!(nobody.environment.iter().any(|(key, home)| key == "HOME" && home != "/root"), "{:?}", nobody.environment);
        let numeric = RunAs::parse("4242:4343", &[]).expect("numbers need no entry");
        assert_eq!((numeric.uid, numeric.gid, numeric.groups.clone()), (4242, 4343, vec![4343]));
        assert!(RunAs::parse("no-such-user-capdisc", &[]).expect_err("unknown").to_string().contains("no user `no-such-user-capdisc`"));
        let typo = RunAs::parse("nobody", &["CAP_NET_BIND_SERIVCE".into()]).expect_err("typo");
        assert!(typo.to_string().contains("did you mean CAP_NET_BIND_SERVICE"), "{typo}");
    }
}
