//! Writing drop-ins, atomically and never through a symlink: capdisc's lasting drop-in
//! (`/etc/systemd/system/UNIT.d/60-capdisc.conf`, under a root, keeping a backup of an earlier,
//! different version) and its temporary runtime ones (`/run/systemd/system/UNIT.d/`, gone at
//! reboot).
use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{error::Error, files::write_atomic};

pub const DROPIN_NAME: &str = "60-capdisc.conf";
/// Where systemd reads runtime units and drop-ins (a tmpfs: a reboot clears it).
pub const RUNTIME_DIR: &str = "/run/systemd/system";

#[derive(Debug)]
pub struct AppliedDropin {
    pub path: PathBuf,
    /// False when the file already had exactly this content.
    pub changed: bool,
    pub backup: Option<PathBuf>,
}

pub fn apply_dropin(root: &Path, unit: &str, content: &str) -> Result<AppliedDropin, Error> {
    let dir = dropin_dir(root, unit);
    let path = dir.join(DROPIN_NAME);
    refuse_symlink(&dir)?;
    refuse_symlink(&path)?;
    fs::create_dir_all(&dir).map_err(|source| Error::Output { path: dir.clone(), source })?;
    let previous = fs::read_to_string(&path).ok();
    if previous.as_deref() == Some(content) {
        return Ok(AppliedDropin { path, changed: false, backup: None });
    }
    let backup = match previous {
        Some(old) => {
            let backup = dir.join(format!("{DROPIN_NAME}.bak"));
            refuse_symlink(&backup)?;
            write_atomic(&backup, old.as_bytes())?;
            Some(backup)
        }
        None => None,
    };
    write_atomic(&path, content.as_bytes())?;
    Ok(AppliedDropin { path, changed: true, backup })
}

/// Writes a temporary drop-in under /run (cleared by a reboot) and returns its path.
pub fn write_runtime_dropin(unit: &str, name: &str, content: &str) -> Result<PathBuf, Error> {
    let dir = Path::new(RUNTIME_DIR).join(format!("{unit}.d"));
    let path = dir.join(name);
    refuse_symlink(&dir)?;
    refuse_symlink(&path)?;
    fs::create_dir_all(&dir).map_err(|source| Error::Output { path: dir.clone(), source })?;
    write_atomic(&path, content.as_bytes())?;
    Ok(path)
}

/// Removes a runtime drop-in written by [`write_runtime_dropin`], and its directory when empty.
pub fn remove_runtime_dropin(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Output { path: path.to_path_buf(), source }),
    }
    if let Some(dir) = path.parent() {
        let _ = fs::remove_dir(dir);
    }
    Ok(())
}

pub fn dropin_dir(root: &Path, unit: &str) -> PathBuf {
    root.join("etc/systemd/system").join(format!("{unit}.d"))
}

fn refuse_symlink(path: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink()) {
        return Err(Error::Usage(format!("refusing to write through the symlink {}; remove it or point --root elsewhere", path.display())));
    }
    Ok(())
}
