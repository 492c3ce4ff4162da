//! System call numbers to names for the architecture capdisc was built for (the `syscalls` crate's
//! tables), and which argument of a system call is a path.
use capdisc_common::{NO_SYSCALL, PATH_ARGS_SYSCALLS};

/// System calls that name a file, with the index of the path argument the kernel resolves when
/// it makes its file-permission checks (the target of `symlink`, the mount point of `mount`).
/// Source: the system calls' signatures (man 2). Names a architecture lacks are skipped.
pub const PATH_ARGUMENTS: &[(&str, u8)] = &[
    ("open", 0),
    ("creat", 0),
    ("stat", 0),
    ("lstat", 0),
    ("access", 0),
    ("execve", 0),
    ("truncate", 0),
    ("chdir", 0),
    ("chroot", 0),
    ("rename", 0),
    ("mkdir", 0),
    ("rmdir", 0),
    ("link", 0),
    ("unlink", 0),
    ("symlink", 1),
    ("readlink", 0),
    ("chmod", 0),
    ("chown", 0),
    ("lchown", 0),
    ("utime", 0),
    ("utimes", 0),
    ("mknod", 0),
    ("statfs", 0),
    ("mount", 1),
    ("umount2", 0),
    ("setxattr", 0),
    ("lsetxattr", 0),
    ("getxattr", 0),
    ("lgetxattr", 0),
    ("listxattr", 0),
    ("llistxattr", 0),
    ("removexattr", 0),
    ("lremovexattr", 0),
    ("inotify_add_watch", 1),
    ("openat", 1),
    ("openat2", 1),
    ("mkdirat", 1),
    ("mknodat", 1),
    ("fchownat", 1),
    ("futimesat", 1),
    ("newfstatat", 1),
    ("fstatat64", 1),
    ("statx", 1),
    ("unlinkat", 1),
    ("renameat", 1),
    ("renameat2", 1),
    ("linkat", 1),
    ("symlinkat", 2),
    ("readlinkat", 1),
    ("fchmodat", 1),
    ("fchmodat2", 1),
    ("faccessat", 1),
    ("faccessat2", 1),
    ("utimensat", 1),
    ("execveat", 1),
    ("name_to_handle_at", 1),
    ("open_tree", 1),
    ("move_mount", 1),
];

/// (syscall number, path argument index) for this architecture.
pub fn path_arguments() -> Vec<(u32, u8)> {
    PATH_ARGUMENTS
        .iter()
        .filter_map(|(name, argument)| name.parse::<syscalls::Sysno>().ok().map(|sysno| (sysno.id() as u32, *argument)))
        .filter(|(number, _)| *number < PATH_ARGS_SYSCALLS)
        .collect()
}

/// `bind`, `chown`...; `none` outside a system call; `syscall_N` for numbers the table lacks.
pub fn name(number: i32) -> String {
    if number == NO_SYSCALL {
        return "none".to_owned();
    }
    usize::try_from(number)
        .ok()
        .and_then(syscalls::Sysno::new)
        .map(|sysno| sysno.name().to_owned())
        .unwrap_or_else(|| format!("syscall_{number}"))
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn names_x86_64_numbers() {
        assert_eq!(super::name(49), "bind");
        assert_eq!(super::name(92), "chown");
        assert_eq!(super::name(-1), "none");
        assert_eq!(super::name(100_000), "syscall_100000");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn knows_where_paths_are() {
        let table = super::path_arguments();
        assert!(table.contains(&(262, 1)), "newfstatat(dirfd, path, ...)");
        assert!(table.contains(&(2, 0)), "open(path, ...)");
        assert!(table.len() > 50, "{}", table.len());
    }
}
