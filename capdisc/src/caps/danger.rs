//! Capabilities that amount to root for the process that holds them, and why: the well-known
//! escalation paths (capabilities(7); the "root-equivalent" analysis in grsecurity's
//! "False Boundaries and Arbitrary Code Execution" and the Linux Privilege Escalation
//! literature). `lint` warns when a non-root service holds any of them.
pub const ROOT_EQUIVALENT: &[(&str, &str)] = &[
    ("CAP_SYS_ADMIN", "mounts file systems, makes namespaces, loads BPF and does many more operations: a catch-all that reaches root"),
    ("CAP_SYS_MODULE", "loads kernel modules: arbitrary code in the kernel"),
    ("CAP_SYS_PTRACE", "traces and injects code into any process, root's included"),
    ("CAP_SYS_RAWIO", "uses raw I/O ports and /dev/mem: reads and writes kernel memory"),
    ("CAP_SETUID", "becomes any user, uid 0 included"),
    ("CAP_SETGID", "joins any group, such as shadow or disk"),
    ("CAP_SETPCAP", "grants itself capabilities from its bounding set"),
    ("CAP_SETFCAP", "sets file capabilities on a binary it then runs"),
    ("CAP_DAC_OVERRIDE", "writes any file: /etc/shadow, /etc/sudoers, root's crontab"),
    ("CAP_DAC_READ_SEARCH", "reads any file (/etc/shadow) and opens files by handle outside its mount (open_by_handle_at)"),
    ("CAP_CHOWN", "takes ownership of any file, then rewrites it"),
    ("CAP_FOWNER", "changes the mode of any file (chmod u+s, or write access to /etc/passwd)"),
    ("CAP_FSETID", "keeps set-uid bits on files it modifies"),
    ("CAP_MKNOD", "creates device nodes for raw disks and memory"),
    ("CAP_BPF", "loads BPF programs that read kernel memory"),
    ("CAP_PERFMON", "reads kernel memory through perf and BPF"),
    ("CAP_NET_ADMIN", "reconfigures the network, firewall included, and loads some modules"),
    ("CAP_SYS_BOOT", "reboots the host or loads a new kernel (kexec)"),
    ("CAP_MAC_ADMIN", "changes the mandatory access control policy"),
    ("CAP_MAC_OVERRIDE", "bypasses the mandatory access control policy"),
    ("CAP_AUDIT_CONTROL", "turns kernel auditing off"),
    ("CAP_LINUX_IMMUTABLE", "clears the immutable flag of protected files"),
    ("CAP_SYSLOG", "reads kernel addresses from the kernel log (defeats KASLR)"),
];

/// Why `name` amounts to root, when it does.
pub fn why_root_equivalent(name: &str) -> Option<&'static str> {
    ROOT_EQUIVALENT.iter().find(|(known, _)| *known == name).map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_entry_names_a_real_capability() {
        for (name, why) in super::ROOT_EQUIVALENT {
            assert!(crate::caps::number(name).is_some(), "{name}");
            assert!(!why.is_empty());
        }
    }

    /// Every reason reads after "it" (`lint`: "... which amounts to root: it mounts file
    /// systems, ..."); the CAP_SYS_ADMIN one read "it mount, namespaces, BPF".
    #[test]
    fn every_reason_is_a_verb_phrase_after_it() {
        for (name, why) in super::ROOT_EQUIVALENT {
            let verb = why.split_whitespace().next().unwrap_or_default();
            assert!(verb.ends_with('s') && verb.chars().all(|c| c.is_ascii_lowercase()), "{name}: `it {why}`");
        }
    }
}
