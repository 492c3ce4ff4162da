//! Writing files safely, for every subcommand that writes one (profiles, drop-ins, generated
//! output): atomically and durably (a temporary file in the same directory created exclusively,
//! fsync, rename, fsync of the directory), so a failure, a signal or a power loss leaves the old
//! file or the new one, never a torn one; and, for writes under a chosen root (`apply
//! --root`), through directories opened one component at a time beneath it, never following a
//! symlink (the equivalent of openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, which also works on
//! kernels before 5.6). What is written, and where, is the caller's.
use std::{
    ffi::CString,
    fs,
    io::{Read, Write},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    os::unix::ffi::OsStrExt,
    path::{Component, Path, PathBuf},
};

use crate::error::Error;

/// Checks, before any work starts, that `path` can be written (so a long recording does not end
/// in an unwritable path). Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<(), Error> {
    if path.is_dir() {
        return Err(is_a_directory(path));
    }
    if is_special(path) {
        return write_in_place(path, b"");
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
    if is_special(path) {
        return write_in_place(path, contents);
    }
    let temporary = temporary_path(path);
    let _ = fs::remove_file(&temporary);
    let result = (|| {
        // create_new: O_EXCL, so a symlink planted at the temporary name is never followed.
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        // The rename itself is durable once the directory is: a power loss leaves the old file
        // or the new one, never a torn one.
        let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::File::open(parent)?.sync_all()
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&temporary);
        Error::Output { path: path.to_path_buf(), source }
    })
}

/// A device or a pipe (`-o /dev/null`, `-o /dev/stdout`): written as it is, since renaming a file
/// over it would replace the device node itself with a regular file.
fn is_special(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|metadata| !metadata.file_type().is_file())
}

fn write_in_place(path: &Path, contents: &[u8]) -> Result<(), Error> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .map_err(|source| Error::Output { path: path.to_path_buf(), source })
}

fn is_a_directory(path: &Path) -> Error {
    Error::Output { path: path.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory") }
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.capdisc-{}.tmp", std::process::id()))
}

/// A directory opened beneath a root without following any symlink; files in it are named
/// relative to its descriptor, so nothing swapped in on the way can redirect a write.
#[derive(Debug)]
pub struct BeneathDir {
    fd: OwnedFd,
    /// For messages only.
    pub path: PathBuf,
}

/// Why a path beneath a root cannot be used.
fn refuse(path: &Path, why: &str) -> Error {
    Error::Usage(format!("refusing to write under {}: {why}; remove it or point --root elsewhere", path.display()))
}

impl BeneathDir {
    /// Opens `root/relative`, creating missing directories when `create` (mode 0755). Returns
    /// `Ok(None)` when a directory is missing and `create` is false (a dry run: it would be
    /// created). A symlink or a non-directory anywhere on the way, or `..`, is refused.
    pub fn open(root: &Path, relative: &Path, create: bool) -> Result<Option<Self>, Error> {
        let root_c = c_path(root)?;
        // The root itself is the user's choice and may be reached through a symlink.
        let fd = unsafe { libc::open(root_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Error::Usage(format!("cannot open --root {}: {}", root.display(), std::io::Error::last_os_error())));
        }
        let mut dir = Self { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path: root.to_path_buf() };
        for component in relative.components() {
            let Component::Normal(name) = component else {
                return Err(refuse(&dir.path.join(relative), "the path leaves the root"));
            };
            let next = dir.path.join(name);
            let name_c = CString::new(name.as_bytes()).map_err(|_| refuse(&next, "a NUL byte in the path"))?;
            let mut fd = dir.open_child(&name_c);
            if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
                if !create {
                    return Ok(None);
                }
                if unsafe { libc::mkdirat(dir.fd.as_raw_fd(), name_c.as_ptr(), 0o755) } != 0 {
                    let err = std::io::Error::last_os_error();
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        return Err(Error::Output { path: next, source: err });
                    }
                }
                fd = dir.open_child(&name_c);
            }
            if fd < 0 {
                let err = std::io::Error::last_os_error();
                // Refused already; the metadata only names why (O_DIRECTORY reports a symlink as
                // ENOTDIR).
                let symlink = fs::symlink_metadata(&next).is_ok_and(|metadata| metadata.file_type().is_symlink());
                return Err(match err.raw_os_error() {
                    Some(libc::ELOOP | libc::ENOTDIR) if symlink => refuse(&next, "it is a symlink"),
                    Some(libc::ENOTDIR) => refuse(&next, "it is not a directory"),
                    _ => Error::Output { path: next, source: err },
                });
            }
            dir = Self { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path: next };
        }
        Ok(Some(dir))
    }

    fn open_child(&self, name: &CString) -> i32 {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        unsafe { libc::openat(self.fd.as_raw_fd(), name.as_ptr(), flags) }
    }

    /// The text of a regular file in this directory, `None` when there is none. A symlink is
    /// refused.
    pub fn read(&self, name: &str) -> Result<Option<String>, Error> {
        let path = self.path.join(name);
        let name_c = CString::new(name).map_err(|_| refuse(&path, "a NUL byte in the name"))?;
        let fd = unsafe { libc::openat(self.fd.as_raw_fd(), name_c.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                Some(libc::ELOOP) => Err(refuse(&path, "it is a symlink")),
                _ => Err(Error::Output { path, source: err }),
            };
        }
        let mut text = String::new();
        fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) })
            .read_to_string(&mut text)
            .map_err(|source| Error::Output { path: path.clone(), source })?;
        Ok(Some(text))
    }

    /// Refuses when `name` exists as a symlink (the rename would replace the link, but a user
    /// who planted one meant something by it).
    pub fn refuse_symlink(&self, name: &str) -> Result<(), Error> {
        self.read(name).map(drop)
    }

    /// Writes `name` atomically: a temporary file created exclusively (never through a
    /// symlink), fsync, rename within this directory, fsync of the directory.
    pub fn write_atomic(&self, name: &str, contents: &[u8]) -> Result<(), Error> {
        let path = self.path.join(name);
        self.refuse_symlink(name)?;
        let temporary = format!(".{name}.capdisc-{}.tmp", std::process::id());
        let (name_c, temporary_c) = match (CString::new(name), CString::new(temporary.as_str())) {
            (Ok(name), Ok(temporary)) => (name, temporary),
            _ => return Err(refuse(&path, "a NUL byte in the name")),
        };
        let dirfd = self.fd.as_raw_fd();
        unsafe { libc::unlinkat(dirfd, temporary_c.as_ptr(), 0) };
        let result = (|| {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            let fd = unsafe { libc::openat(dirfd, temporary_c.as_ptr(), flags, 0o644 as libc::c_uint) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            file.write_all(contents)?;
            file.sync_all()?;
            if unsafe { libc::renameat(dirfd, temporary_c.as_ptr(), dirfd, name_c.as_ptr()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            unsafe { libc::fsync(dirfd) };
            Ok(())
        })();
        result.map_err(|source| {
            unsafe { libc::unlinkat(dirfd, temporary_c.as_ptr(), 0) };
            Error::Output { path, source }
        })
    }

    /// Removes `name` (not following a symlink); a missing file is fine.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        let path = self.path.join(name);
        let name_c = CString::new(name).map_err(|_| refuse(&path, "a NUL byte in the name"))?;
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), name_c.as_ptr(), 0) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ENOENT) {
                return Err(Error::Output { path, source: err });
            }
        }
        Ok(())
    }
}

fn c_path(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| refuse(path, "a NUL byte in the path"))
}

/// A directory capdisc makes fresh under the temporary directory (never one found there: a link
/// planted in /tmp would lead elsewhere), with `mode`, removed with what it holds when dropped.
pub struct PrivateDir {
    pub path: PathBuf,
}

impl PrivateDir {
    pub fn make(what: &str, mode: u32) -> Result<Self, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.subsec_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("capdisc-{what}-{}-{nanos}", std::process::id()));
        fs::DirBuilder::new().mode(mode).create(&path).map_err(|err| Error::io(format!("cannot make {}", path.display()), err))?;
        // The umask may have taken bits `mode` asked for.
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|err| Error::io(format!("cannot set the mode of {}", path.display()), err))?;
        Ok(Self { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
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
    fn a_device_is_written_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        check_writable(Path::new("/dev/null")).expect("writable");
        write_atomic(Path::new("/dev/null"), b"profile").expect("written");
        let metadata = fs::metadata("/dev/null").expect("stat");
        assert!(metadata.file_type().is_char_device(), "/dev/null is still the null device");
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

    #[test]
    fn writes_beneath_a_root_never_follow_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (root, elsewhere) = (dir.path().join("root"), dir.path().join("elsewhere"));
        fs::create_dir_all(root.join("etc")).expect("mkdir");
        fs::create_dir_all(&elsewhere).expect("mkdir");
        std::os::unix::fs::symlink(&elsewhere, root.join("etc/systemd")).expect("symlink");
        let err = BeneathDir::open(&root, Path::new("etc/systemd/system"), true).expect_err("a symlink on the way");
        assert!(err.to_string().contains("etc/systemd: it is a symlink"), "{err}");
        assert_eq!(fs::read_dir(&elsewhere).expect("read").count(), 0, "nothing written through the link");
        let err = BeneathDir::open(&root, Path::new("../x"), true).expect_err("..");
        assert!(err.to_string().contains("leaves the root"), "{err}");
        assert!(BeneathDir::open(&root, Path::new("run/x"), false).expect("dry").is_none(), "missing, not created");
        assert!(!root.join("run").exists());
        let made = BeneathDir::open(&root, Path::new("run/x"), true).expect("create").expect("opened");
        made.write_atomic("a.conf", b"[Service]\n").expect("write");
        assert_eq!(made.read("a.conf").expect("read").as_deref(), Some("[Service]\n"));
        std::os::unix::fs::symlink("/etc/passwd", root.join("run/x/b.conf")).expect("symlink");
        assert!(made.write_atomic("b.conf", b"x").is_err(), "a planted symlink is refused");
    }
}
