//! Writing files safely, for every subcommand that writes one (profiles, drop-ins, generated
//! output): atomically (a temporary file in the same directory, fsync, rename), so a failure or
//! a signal never leaves a partial file behind. What is written, and where, is the caller's.
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::error::Error;

/// Checks, before any work starts, that `path` can be written (so a long recording does not end
/// in an unwritable path). Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<(), Error> {
    if path.is_dir() {
        return Err(is_a_directory(path));
    }
    let probe = temporary_path(path);
    let result = fs::OpenOptions::new().write(true).create_new(true).open(&probe).map(drop);
    let _ = fs::remove_file(&probe);
    result.map_err(|source| Error::Output { path: path.to_path_buf(), source })
}

pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), Error> {
    if path.is_dir() {
        return Err(is_a_directory(path));
    }
    let temporary = temporary_path(path);
    let _ = fs::remove_file(&temporary);
    let result = (|| {
        // create_new: O_EXCL, so a symlink planted at the temporary name is never followed.
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&temporary);
        Error::Output { path: path.to_path_buf(), source }
    })
}

fn is_a_directory(path: &Path) -> Error {
    Error::Output { path: path.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory") }
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.capdisc-{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = check_writable(dir.path()).expect_err("a directory is not a file");
        assert!(err.to_string().contains("it is a directory"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).expect("read").count(), 0, "nothing left behind");
    }

    #[test]
    fn writes_replace_whole_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.yaml");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "two");
        assert_eq!(fs::read_dir(dir.path()).expect("read").count(), 1, "no temporary file left");
    }
}
