//! System call numbers to names for the architecture capdisc was built for (the `syscalls` crate's
//! tables), and which argument of a system call is a path.
use capdisc_common::{ActivityArg, NO_SYSCALL, PATH_ARGS_SYSCALLS};

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

/// `CLONE_NEWNS`, `CLONE_NEWCGROUP`, `CLONE_NEWUTS`, `CLONE_NEWIPC`, `CLONE_NEWUSER`,
/// `CLONE_NEWPID`, `CLONE_NEWNET`: the namespace flags of clone, clone3 and unshare.
pub const CLONE_NEW_ANY: u32 = 0x7e02_0000;
/// Each `CLONE_NEW*` flag and the namespace it makes, as systemd's `RestrictNamespaces=` names it.
pub const NAMESPACES: [(u32, &str); 7] = [
    (0x0002_0000, "mnt"),
    (0x0200_0000, "cgroup"),
    (0x0400_0000, "uts"),
    (0x0800_0000, "ipc"),
    (0x1000_0000, "user"),
    (0x2000_0000, "pid"),
    (0x4000_0000, "net"),
];
/// `O_WRONLY | O_RDWR | O_CREAT | O_TRUNC`: the flags of an open that writes.
pub const OPEN_WRITES: u32 = 0o1103;
/// `PROT_WRITE | PROT_EXEC`.
pub const PROT_WRITE_EXEC: u32 = 0x6;
/// `S_ISUID | S_ISGID`.
pub const SET_ID_BITS: u32 = 0o6000;

/// What the sandbox's `sys_enter` program keeps of each system call besides its number (see
/// `capdisc_common::activity`): the detail the sandboxing settings depend on, and whether its
/// path is written. Source: the calls' signatures (man 2) and `linux/sched/types.h` (`struct
/// sched_attr`'s policy at byte 4), `linux/sched.h` (`struct clone_args`' flags at byte 0),
/// `linux/openat2.h` (`struct open_how`'s flags at byte 0).
pub fn activity_arguments() -> Vec<(u32, ActivityArg)> {
    use capdisc_common::activity::{PATH_NONE, PATH_OPENS, PATH_WRITES, USER_U32, VALUE};
    let value = |arg: u8, mask: u32, path: u8| ActivityArg { how: VALUE, arg, offset: 0, path, mask };
    let user = |arg: u8, offset: u8, mask: u32, path: u8| ActivityArg { how: USER_U32, arg, offset, path, mask };
    let writes = ActivityArg { path: PATH_WRITES, ..ActivityArg::default() };
    let table: Vec<(&str, ActivityArg)> = vec![
        ("socket", value(0, 0xffff, PATH_NONE)),
        ("socketpair", value(0, 0xffff, PATH_NONE)),
        ("mmap", value(2, PROT_WRITE_EXEC, PATH_NONE)),
        ("mprotect", value(2, PROT_WRITE_EXEC, PATH_NONE)),
        ("pkey_mprotect", value(2, PROT_WRITE_EXEC, PATH_NONE)),
        ("unshare", value(0, CLONE_NEW_ANY, PATH_NONE)),
        ("clone", value(0, CLONE_NEW_ANY, PATH_NONE)),
        ("clone3", user(0, 0, CLONE_NEW_ANY, PATH_NONE)),
        ("setns", value(1, CLONE_NEW_ANY, PATH_NONE)),
        ("personality", value(0, u32::MAX, PATH_NONE)),
        ("sched_setscheduler", value(1, 0x7, PATH_NONE)),
        ("sched_setattr", user(1, 4, 0x7, PATH_NONE)),
        ("chmod", value(1, SET_ID_BITS, PATH_WRITES)),
        ("fchmod", value(1, SET_ID_BITS, PATH_NONE)),
        ("fchmodat", value(2, SET_ID_BITS, PATH_WRITES)),
        ("fchmodat2", value(2, SET_ID_BITS, PATH_WRITES)),
        ("open", value(1, OPEN_WRITES, PATH_OPENS)),
        ("openat", value(2, OPEN_WRITES, PATH_OPENS)),
        ("openat2", user(2, 0, OPEN_WRITES, PATH_OPENS)),
        ("creat", writes),
        ("truncate", writes),
        ("rename", writes),
        ("renameat", writes),
        ("renameat2", writes),
        ("mkdir", writes),
        ("mkdirat", writes),
        ("rmdir", writes),
        ("link", writes),
        ("linkat", writes),
        ("unlink", writes),
        ("unlinkat", writes),
        ("symlink", writes),
        ("symlinkat", writes),
        ("mknod", writes),
        ("mknodat", writes),
        ("chown", writes),
        ("lchown", writes),
        ("fchownat", writes),
        ("utime", writes),
        ("utimes", writes),
        ("utimensat", writes),
        ("setxattr", writes),
        ("lsetxattr", writes),
        ("removexattr", writes),
        ("lremovexattr", writes),
    ];
    numbered(&table)
}

/// (syscall number, path argument index) for this architecture.
pub fn path_arguments() -> Vec<(u32, u8)> {
    numbered(PATH_ARGUMENTS)
}

/// A table by system call name as this architecture numbers it: names it lacks, and numbers past
/// the kernel side's tables (`PATH_ARGS_SYSCALLS`), left out.
fn numbered<T: Copy>(table: &[(&str, T)]) -> Vec<(u32, T)> {
    table
        .iter()
        .filter_map(|(name, value)| name.parse::<syscalls::Sysno>().ok().map(|sysno| (sysno.id() as u32, *value)))
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
