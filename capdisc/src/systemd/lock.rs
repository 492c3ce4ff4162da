//! One writer per unit: a lock file per unit under /run/capdisc/locks, held with flock(2) for as
//! long as capdisc (or the guardian that will undo its changes) may change the unit. The file
//! says who holds it, so a second capdisc can name the pid. flock locks die with the last process
//! holding the open file, so a crash never leaves a stale lock; /run is cleared at reboot.
use std::{
    fs,
    io::{Read, Seek, Write},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::fs::OpenOptionsExt,
    },
    path::PathBuf,
};

use crate::error::Error;

const LOCK_DIR: &str = "/run/capdisc/locks";

/// A held lock on one unit. Dropping it releases it (unless a guardian holds a copy).
#[derive(Debug)]
pub struct UnitLock {
    file: fs::File,
    pub path: PathBuf,
}

impl UnitLock {
    /// Takes the unit's lock, or says who holds it.
    pub fn acquire(unit: &str) -> Result<Self, Error> {
        match Self::try_acquire(unit)? {
            Ok(lock) => Ok(lock),
            Err(holder) => Err(Error::Target(format!(
                "{unit} is being changed by another capdisc ({holder}, lock {LOCK_DIR}/{unit}.lock); wait for it to finish or stop it"
            ))),
        }
    }

    /// The lock, or (when another process holds it) what its file says of the holder.
    pub fn try_acquire(unit: &str) -> Result<Result<Self, String>, Error> {
        fs::create_dir_all(LOCK_DIR).map_err(|source| Error::Output { path: LOCK_DIR.into(), source })?;
        let path = PathBuf::from(LOCK_DIR).join(format!("{unit}.lock"));
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| Error::Output { path: path.clone(), source })?;
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Ok(Err(if holder.is_empty() { "pid unknown".to_owned() } else { holder.to_owned() }));
        }
        let mut lock = Self { file, path };
        lock.describe(&format!("capdisc pid {}", std::process::id()));
        Ok(Ok(lock))
    }

    /// Says who holds the lock now (capdisc, and the guardian that will undo its changes).
    pub fn describe(&mut self, holder: &str) {
        let _ = self.file.set_len(0);
        let _ = self.file.rewind();
        let _ = self.file.write_all(holder.as_bytes());
    }

    /// A copy of the locked file for a guardian: the lock stays held while either lives.
    pub fn share(&self) -> Result<OwnedFd, Error> {
        self.file.try_clone().map(OwnedFd::from).map_err(|err| Error::io("cannot share the unit lock", err))
    }
}

/// Whether a live process (capdisc or its guardian) holds the unit's lock.
pub fn held(unit: &str) -> bool {
    matches!(UnitLock::try_acquire(unit), Ok(Err(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping a_second_holder_is_refused_with_the_first_ones_pid: /run/capdisc needs root");
            return;
        }
        let unit = format!("capdisc-lock-test-{}.service", std::process::id());
        let first = UnitLock::acquire(&unit).expect("free");
        let err = UnitLock::acquire(&unit).expect_err("held");
        assert!(err.to_string().contains(&format!("being changed by another capdisc (capdisc pid {}", std::process::id())), "{err}");
        assert!(held(&unit));
        let shared = first.share().expect("share");
        drop(first);
        assert!(held(&unit), "a guardian's copy keeps it held");
        drop(shared);
        assert!(!held(&unit), "free once every holder is gone");
        let _ = fs::remove_file(PathBuf::from(LOCK_DIR).join(format!("{unit}.lock")));
    }
}
