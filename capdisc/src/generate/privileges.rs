//! `NoNewPrivileges=yes`, one step beyond capabilities, as the story's hand-written fix took it:
//! written when no executable the service ran gains privileges on exec (a set-uid or set-gid
//! bit, or file capabilities in `security.capability`), which is what the flag would take away.
//! The executables are the ones the recording saw exec'd in the target; they are checked on the
//! host that generates the drop-in (a profile may come from another host: a path missing here
//! leaves the flag out).
use std::{ffi::CString, fs, os::unix::ffi::OsStrExt, os::unix::fs::PermissionsExt, path::Path};

use crate::profile::Profile;

/// Ok(number of executables checked) when NoNewPrivileges=yes is safe, or why it is left out.
pub fn no_new_privileges(profile: &Profile) -> Result<usize, String> {
    if profile.executables.is_empty() {
        return Err("the profile lists no executable the service ran (recorded by an older capdisc, or attached after the exec)".into());
    }
    for exe in &profile.executables {
        let path = Path::new(exe);
        if !path.is_absolute() {
            return Err(format!("{exe} is a relative path, which cannot be checked"));
        }
        let metadata = fs::metadata(path).map_err(|_| format!("{exe} is not on this host to check"))?;
        let mode = metadata.permissions().mode();
        if mode & 0o4000 != 0 {
            return Err(format!("{exe} is set-uid: the service would lose what it gains from it"));
        }
        if mode & 0o2000 != 0 {
            return Err(format!("{exe} is set-gid: the service would lose what it gains from it"));
        }
        if has_file_capabilities(path) {
            return Err(format!("{exe} has file capabilities: the service would lose them"));
        }
    }
    Ok(profile.executables.len())
}

fn has_file_capabilities(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else { return true };
    let size = unsafe { libc::getxattr(path.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) };
    size > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_running(executables: &[&str]) -> Profile {
        let text = include_str!("../../tests/fixtures/story-app.yaml");
        let mut profile = crate::profile::parse(text, "fixture").expect("fixture");
        profile.executables = executables.iter().map(|exe| (*exe).to_owned()).collect();
        profile
    }

    #[test]
    fn plain_binaries_allow_it_and_set_uid_ones_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("app");
        fs::write(&plain, b"\x7fELF").expect("write");
        let setuid = dir.path().join("su");
        fs::write(&setuid, b"\x7fELF").expect("write");
        fs::set_permissions(&setuid, fs::Permissions::from_mode(0o4755)).expect("chmod");
        let (plain, setuid) = (plain.display().to_string(), setuid.display().to_string());
        assert_eq!(no_new_privileges(&profile_running(&[&plain])), Ok(1));
        let refused = no_new_privileges(&profile_running(&[&plain, &setuid])).expect_err("set-uid");
        assert!(refused.contains("is set-uid"), "{refused}");
        assert!(no_new_privileges(&profile_running(&[])).is_err(), "nothing recorded: left out");
        assert!(no_new_privileges(&profile_running(&["/not/here"])).expect_err("missing").contains("not on this host"));
    }
}
