//! Which capability a library function or system call may check, as data: each row names the
//! capability, the functions (glibc's names; Go's `syscall.X` / `unix.X` wrappers are matched
//! by their lower-cased last part) and where the fact comes from. Only functions whose ordinary
//! use reaches the check are here: `open` (DAC_OVERRIDE on any file not one's own), `socket`
//! (NET_RAW only for raw sockets) and `setsockopt`/`ioctl`/`prctl` (a few options among many)
//! would name a capability for nearly every program, so they are left out on purpose.

/// One fact: `capability` may be checked by a call of any of `symbols`; `source` says where.
pub struct ImportRule {
    pub capability: &'static str,
    pub symbols: &'static [&'static str],
    pub source: &'static str,
}

pub const IMPORT_RULES: &[ImportRule] = &[
    ImportRule {
        capability: "CAP_CHOWN",
        symbols: &["chown", "fchown", "lchown", "fchownat"],
        source: "chown(2); kernel fs/attr.c chown_ok()",
    },
    ImportRule {
        capability: "CAP_FOWNER",
        symbols: &["chmod", "fchmod", "fchmodat", "utime", "utimes", "utimensat", "futimens", "futimes", "lutimes"],
        source: "chmod(2), utimensat(2); kernel fs/attr.c setattr_prepare(), inode_owner_or_capable()",
    },
    ImportRule {
        capability: "CAP_KILL",
        symbols: &["kill", "killpg", "tgkill", "sigqueue", "pidfd_send_signal"],
        source: "kill(2); kernel kernel/signal.c kill_ok_by_cred()",
    },
    ImportRule {
        capability: "CAP_SETUID",
        symbols: &["setuid", "seteuid", "setreuid", "setresuid", "setfsuid"],
        source: "setuid(2), setresuid(2); kernel kernel/sys.c __sys_setuid()",
    },
    ImportRule {
        capability: "CAP_SETGID",
        symbols: &["setgid", "setegid", "setregid", "setresgid", "setfsgid", "setgroups", "initgroups"],
        source: "setgid(2), setgroups(2), initgroups(3); kernel kernel/groups.c may_setgroups()",
    },
    ImportRule { capability: "CAP_SYS_CHROOT", symbols: &["chroot"], source: "chroot(2); kernel fs/open.c ksys_chroot()" },
    ImportRule {
        capability: "CAP_NET_BIND_SERVICE",
        symbols: &["bind"],
        source: "bind(2) below net.ipv4.ip_unprivileged_port_start; kernel net/ipv4/af_inet.c __inet_bind()",
    },
    ImportRule {
        capability: "CAP_SYS_NICE",
        symbols: &["setpriority", "nice", "sched_setscheduler", "sched_setparam", "sched_setattr", "ioprio_set", "pthread_setschedparam"],
        source: "setpriority(2), sched_setscheduler(2); kernel kernel/sys.c set_one_prio(), kernel/sched/syscalls.c",
    },
    ImportRule {
        capability: "CAP_SYS_TIME",
        symbols: &["settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "ntp_adjtime", "adjtime", "stime"],
        source: "settimeofday(2), adjtimex(2); kernel kernel/time/time.c, kernel/time/ntp.c",
    },
    ImportRule {
        capability: "CAP_SYS_RESOURCE",
        symbols: &["setrlimit", "setrlimit64", "prlimit", "prlimit64"],
        source: "setrlimit(2) (raising a hard limit); kernel kernel/sys.c do_prlimit()",
    },
    ImportRule {
        capability: "CAP_IPC_LOCK",
        symbols: &["mlock", "mlock2", "mlockall"],
        source: "mlock(2) beyond RLIMIT_MEMLOCK; kernel mm/mlock.c can_do_mlock()",
    },
    ImportRule {
        capability: "CAP_MKNOD",
        symbols: &["mknod", "mknodat", "__xmknod", "__xmknodat"],
        source: "mknod(2) of a device node; kernel fs/namei.c vfs_mknod()",
    },
    ImportRule {
        capability: "CAP_SYS_ADMIN",
        symbols: &["mount", "umount", "umount2", "pivot_root", "sethostname", "setdomainname", "swapon", "swapoff", "quotactl", "setns"],
        source: "mount(2), sethostname(2), swapon(2), setns(2); kernel fs/namespace.c, kernel/sys.c",
    },
    ImportRule {
        capability: "CAP_SYS_PTRACE",
        symbols: &["ptrace", "process_vm_readv", "process_vm_writev"],
        source: "ptrace(2); kernel kernel/ptrace.c __ptrace_may_access()",
    },
    ImportRule {
        capability: "CAP_SYS_MODULE",
        symbols: &["init_module", "finit_module", "delete_module"],
        source: "init_module(2); kernel kernel/module/main.c may_init_module()",
    },
    ImportRule { capability: "CAP_SYS_RAWIO", symbols: &["iopl", "ioperm"], source: "ioperm(2); kernel arch/x86/kernel/ioport.c" },
    ImportRule { capability: "CAP_SYS_BOOT", symbols: &["reboot"], source: "reboot(2); kernel kernel/reboot.c" },
    ImportRule {
        capability: "CAP_SETPCAP",
        symbols: &["capset", "cap_set_proc", "cap_set_ambient", "cap_drop_bound", "capng_apply"],
        source: "capset(2), libcap cap_set_proc(3), libcap-ng capng_apply(3); kernel kernel/capability.c, security/commoncap.c",
    },
    ImportRule { capability: "CAP_SYS_TTY_CONFIG", symbols: &["vhangup"], source: "vhangup(2); kernel fs/open.c" },
    ImportRule {
        capability: "CAP_SYSLOG",
        symbols: &["klogctl"],
        source: "syslog(2) (klogctl); kernel kernel/printk/printk.c check_syslog_permissions()",
    },
    ImportRule { capability: "CAP_SYS_PACCT", symbols: &["acct"], source: "acct(2); kernel kernel/acct.c" },
    ImportRule {
        capability: "CAP_AUDIT_WRITE",
        symbols: &["audit_log_user_message", "audit_log_acct_message", "audit_log_user_avc_message", "audit_send"],
        source: "libaudit audit_log_user_message(3); kernel kernel/audit.c audit_netlink_ok()",
    },
    ImportRule { capability: "CAP_BPF", symbols: &["bpf"], source: "bpf(2); kernel kernel/bpf/syscall.c" },
    ImportRule {
        capability: "CAP_PERFMON",
        symbols: &["perf_event_open"],
        source: "perf_event_open(2); kernel kernel/events/core.c perf_allow_kernel()",
    },
];

/// The capabilities a call of `symbol` may check (a Go wrapper by its last part, lower-cased).
pub fn capabilities_of(symbol: &str) -> impl Iterator<Item = &'static str> + '_ {
    IMPORT_RULES.iter().filter(move |rule| rule.symbols.contains(&symbol)).map(|rule| rule.capability)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_known_capability_and_a_symbol_is_in_one_rule_per_capability() {
        for rule in IMPORT_RULES {
            assert!(crate::caps::number(rule.capability).is_some(), "{}", rule.capability);
            assert!(!rule.source.is_empty() && !rule.symbols.is_empty(), "{}", rule.capability);
        }
        assert_eq!(capabilities_of("kill").collect::<Vec<_>>(), ["CAP_KILL"]);
        assert_eq!(capabilities_of("initgroups").collect::<Vec<_>>(), ["CAP_SETGID"]);
        assert_eq!(capabilities_of("open").count(), 0);
    }
}
