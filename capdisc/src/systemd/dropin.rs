//! Writing drop-ins, atomically and never through a symlink (every directory is opened beneath
//! the root, one component at a time): capdisc's lasting drop-in
//! (`/etc/systemd/system/UNIT.d/60-capdisc.conf`, under a root, keeping a backup of an earlier,
//! different version) and its temporary runtime ones (`/run/systemd/system/UNIT.d/`, gone at
//! reboot).
use std::path::{Path, PathBuf};

use crate::{error::Error, support::files::BeneathDir};

pub const DROPIN_NAME: &str = "60-capdisc.conf";
const BACKUP_NAME: &str = "60-capdisc.conf.bak";
/// Where systemd reads runtime units and drop-ins (a tmpfs: a reboot clears it).
pub const RUNTIME_DIR: &str = "/run/systemd/system";

#[derive(Debug)]
pub struct AppliedDropin {
    pub path: PathBuf,
    /// False when the file already had exactly this content.
    pub changed: bool,
    pub backup: Option<PathBuf>,
    /// What the file held before (None: it did not exist), for [`revert_dropin`].
    previous: Option<String>,
}

/// `etc/systemd/system/UNIT.d`, relative to the root.
fn dropin_dir(unit: &str) -> PathBuf {
    Path::new("etc/systemd/system").join(format!("{unit}.d"))
}

/// What `apply_dropin` would write, checked without writing anything (`apply --dry-run`): the
/// same refusals as the real run.
pub fn check_dropin(root: &Path, unit: &str) -> Result<PathBuf, Error> {
    let relative = dropin_dir(unit);
    if let Some(dir) = BeneathDir::open(root, &relative, false)? {
        dir.refuse_symlink(DROPIN_NAME)?;
        dir.refuse_symlink(BACKUP_NAME)?;
    }
    Ok(root.join(relative).join(DROPIN_NAME))
}

pub fn apply_dropin(root: &Path, unit: &str, content: &str) -> Result<AppliedDropin, Error> {
    check_dropin(root, unit)?;
    let dir = BeneathDir::open(root, &dropin_dir(unit), true)?.ok_or_else(|| Error::Runtime("the drop-in directory vanished".into()))?;
    let path = dir.path.join(DROPIN_NAME);
    let previous = dir.read(DROPIN_NAME)?;
    if previous.as_deref() == Some(content) {
        return Ok(AppliedDropin { path, changed: false, backup: None, previous });
    }
    let backup = match &previous {
        Some(old) => {
            dir.write_atomic(BACKUP_NAME, old.as_bytes())?;
            Some(dir.path.join(BACKUP_NAME))
        }
        None => None,
    };
    dir.write_atomic(DROPIN_NAME, content.as_bytes())?;
    Ok(AppliedDropin { path, changed: true, backup, previous })
}

/// Undoes [`apply_dropin`] (its read-back failed): the previous drop-in put back, or the new one
/// removed. Returns what was done.
pub fn revert_dropin(root: &Path, unit: &str, applied: &AppliedDropin) -> Result<String, Error> {
    if !applied.changed {
        return Ok(format!("{} left as it was (unchanged)", applied.path.display()));
    }
    let dir = BeneathDir::open(root, &dropin_dir(unit), false)?.ok_or_else(|| Error::Runtime("the drop-in directory vanished".into()))?;
    match &applied.previous {
        Some(old) => {
            dir.write_atomic(DROPIN_NAME, old.as_bytes())?;
            Ok(format!("the previous {} put back", applied.path.display()))
        }
        None => {
            dir.remove(DROPIN_NAME)?;
            let _ = std::fs::remove_dir(&dir.path);
            Ok(format!("{} removed", applied.path.display()))
        }
    }
}

/// Writes a temporary drop-in under /run (cleared by a reboot) and returns its path.
pub fn write_runtime_dropin(unit: &str, name: &str, content: &str) -> Result<PathBuf, Error> {
    let dir = runtime_dir(unit, true)?.ok_or_else(|| Error::Runtime(format!("{RUNTIME_DIR} vanished")))?;
    dir.write_atomic(name, content.as_bytes())?;
    Ok(dir.path.join(name))
}

/// Removes a runtime drop-in written by [`write_runtime_dropin`], and its directory when empty.
pub fn remove_runtime_dropin(unit: &str, name: &str) -> Result<(), Error> {
    if let Some(dir) = runtime_dir(unit, false)? {
        dir.remove(name)?;
        let _ = std::fs::remove_dir(&dir.path);
    }
    Ok(())
}

fn runtime_dir(unit: &str, create: bool) -> Result<Option<BeneathDir>, Error> {
    let relative = Path::new(RUNTIME_DIR.trim_start_matches('/')).join(format!("{unit}.d"));
    BeneathDir::open(Path::new("/"), &relative, create)
}
