//! Error numbers by name (asm-generic/errno-base.h and errno.h, the same on x86_64 and arm64):
//! what a system call returned, said as a person reads it.

/// The errnos a refused or failed system call most often returns.
const NAMES: &[(u64, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (9, "EBADF"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (24, "EMFILE"),
    (26, "ETXTBSY"),
    (28, "ENOSPC"),
    (30, "EROFS"),
    (32, "EPIPE"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (95, "EOPNOTSUPP"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
];

/// `EACCES` for 13; `errno N` for one this table does not name.
pub fn name(errno: u64) -> String {
    NAMES.iter().find(|(number, _)| *number == errno).map(|(_, name)| (*name).to_owned()).unwrap_or_else(|| format!("errno {errno}"))
}

/// 13 for `EACCES`: the number of a name this table has.
pub fn number(name: &str) -> Option<u64> {
    NAMES.iter().find(|(_, known)| *known == name).map(|(number, _)| *number)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_match_libc() {
        for (number, name) in super::NAMES {
            let expected = match *name {
                "EPERM" => libc::EPERM,
                "EACCES" => libc::EACCES,
                "EROFS" => libc::EROFS,
                "EAFNOSUPPORT" => libc::EAFNOSUPPORT,
                "ENOSYS" => libc::ENOSYS,
                "EADDRINUSE" => libc::EADDRINUSE,
                _ => continue,
            };
            assert_eq!(*number, expected as u64, "{name}");
        }
        assert_eq!(super::name(13), "EACCES");
        assert_eq!(super::number("EROFS"), Some(30));
        assert_eq!(super::name(4242), "errno 4242");
    }
}
