//! Turning raw checks into verdicts, with the rules as data: which kernel call sites make
//! advisory (no-audit) checks, which are file-permission fallbacks (`fallback`), which frames
//! belong to the tracing machinery, and how a capability's class follows from its checks.
mod fallback;

use capdisc_common::flags;
use serde::{Deserialize, Serialize};

pub use fallback::{all_fallbacks, fallback_site, Fallback, FALLBACK_CALL_SITES};

/// Kernel functions whose capability checks are advisory probes, not needs. Source: the kernel
/// sources (mm/util.c `__vm_enough_memory` -> security/commoncap.c `cap_vm_enough_memory`, which
/// checks CAP_SYS_ADMIN with CAP_OPT_NOAUDIT for overcommit accounting; kernel/capability.c, the
/// `*_noaudit` helpers). The tracepoint backend has no `opts`, so it relies on this table.
pub const NOAUDIT_CALL_SITES: &[(&str, &str)] = &[
    ("cap_vm_enough_memory", "overcommit accounting on mmap/brk/fork/exec (no-audit)"),
    ("security_vm_enough_memory_mm", "overcommit accounting on mmap/brk/fork/exec (no-audit)"),
    ("__vm_enough_memory", "overcommit accounting on mmap/brk/fork/exec (no-audit)"),
    ("ns_capable_noaudit", "a no-audit probe (ns_capable_noaudit)"),
    ("has_capability_noaudit", "a no-audit probe (has_capability_noaudit)"),
    ("has_ns_capability_noaudit", "a no-audit probe (has_ns_capability_noaudit)"),
];

/// Frames that belong to the tracing machinery (BPF, perf, kprobe trampolines), not to the
/// code that made the check; they are dropped from the top of a call site.
const TRACING_FRAME_PREFIXES: &[&str] = &[
    "bpf_",
    "__bpf",
    "perf_",
    "trace_",
    "__traceiter",
    "kprobe",
    "kretprobe",
    "__kretprobe",
    "rethook",
    "arch_rethook",
    "ftrace",
    "fprobe",
];

/// Where a call site stops being interesting: the system call entry.
const ENTRY_FRAMES: &[&str] = &["do_syscall_64", "entry_SYSCALL_64", "entry_SYSCALL_64_after_hwframe", "x64_sys_call"];

/// What a system call returns when its capability check is denied, from the kernel sources:
/// net/ipv4/af_inet.c and net/ipv6/af_inet6.c return EACCES for a privileged port; kernel/signal.c
/// (`kill_ok_by_cred`), fs/attr.c (`chown_ok`), kernel/sys.c (set*id), fs/namespace.c (mount),
/// kernel/ptrace.c and kernel/module return EPERM. File-permission fallbacks return EACCES (from
/// the fallback table). Unlisted system calls: EPERM, the kernel's usual answer.
pub const DENIAL_ERRNO: &[(&str, &str)] = &[
    ("bind", "EACCES"),
    ("kill", "EPERM"),
    ("tgkill", "EPERM"),
    ("chown", "EPERM"),
    ("fchown", "EPERM"),
    ("fchownat", "EPERM"),
    ("lchown", "EPERM"),
    ("setuid", "EPERM"),
    ("setgid", "EPERM"),
    ("setresuid", "EPERM"),
    ("setresgid", "EPERM"),
    ("setgroups", "EPERM"),
    ("capset", "EPERM"),
    ("mount", "EPERM"),
    ("umount2", "EPERM"),
    ("ptrace", "EPERM"),
    ("init_module", "EPERM"),
    ("finit_module", "EPERM"),
    ("settimeofday", "EPERM"),
    ("clock_settime", "EPERM"),
];

/// The errno a system call returns when its capability check is denied.
pub fn denial_errno(syscall: &str) -> &'static str {
    DENIAL_ERRNO.iter().find(|(name, _)| *name == syscall).map(|(_, errno)| *errno).unwrap_or("EPERM")
}

/// How many frames of a call site are kept.
pub const CALL_SITE_DEPTH: usize = 8;

/// A capability's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// At least one granted, audited check by the target after exec: the service needs it.
    Required,
    /// Granted, audited checks, but only file-permission fallbacks (the mode bits had already
    /// refused; the capability overrode them). Granted until proven unneeded (`minimize`).
    Conditional,
    /// Only denied audited checks: evidence of a failure, never granted automatically.
    Denied,
    /// Only checks against a user namespace the service made itself (it started in the host's):
    /// it holds every capability there whatever the unit's bounding set, so not a need of the
    /// unit (`unshare -U`, a browser's sandbox, a build tool's rootless container).
    Userns,
    /// Only no-audit checks: the kernel asked in passing; not a need.
    Advisory,
    /// Only checks made by set-up: the service manager's child before it exec'd the service, or
    /// a container runtime before (or, for `exec`, while joining) the container's command.
    Setup,
}

impl Class {
    /// Granted by a recommendation that is not proven yet: required and conditional.
    pub fn granted(self) -> bool {
        matches!(self, Class::Required | Class::Conditional)
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Required => "required",
            Class::Conditional => "conditional",
            Class::Denied => "denied",
            Class::Userns => "userns",
            Class::Advisory => "advisory",
            Class::Setup => "setup",
        }
    }
}

/// Function names of a raw stack, from `cap_capable` (or, when the walk starts above it, from
/// the first frame that is not tracing machinery), cut at the syscall entry.
pub fn call_site_frames(functions: &[String]) -> Vec<String> {
    let start = functions.iter().position(|name| name == "cap_capable").unwrap_or_else(|| {
        functions.iter().take_while(|name| TRACING_FRAME_PREFIXES.iter().any(|prefix| name.starts_with(prefix))).count()
    });
    functions[start..].iter().take_while(|name| !ENTRY_FRAMES.contains(&name.as_str())).take(CALL_SITE_DEPTH).cloned().collect()
}

/// Container runtimes' processes that work inside a container's cgroup before the container's
/// own command runs: the OCI runtimes' init (crun re-executes itself from a memfd it names
/// `crun_cloned`, so its init is `memfd:crun_clon` until it execs the container's command, as
/// seen with crun 1.8 under podman 4.3; runc names its stages `runc:[0:PARENT]`, `runc:[1:CHILD]`,
/// `runc:[2:INIT]`; youki), and conmon, podman's monitor. Sources: crun src/libcrun/cloned_binary.c,
/// runc libcontainer/nsenter, youki crates/libcontainer, conmon src/conmon.c.
const CONTAINER_RUNTIME_COMMS: &[&str] = &["crun", "runc", "youki", "conmon"];
/// Prefixes of the same: runc's stages and the runtimes' memfd copies of themselves.
const CONTAINER_RUNTIME_PREFIXES: &[&str] = &["runc:[", "memfd:crun", "memfd:runc"];

/// Why a check made by this command is set-up rather than the service: systemd names the child
/// it forks for a unit `(name)` until that child execs the service (src/core/execute.c), and a
/// container runtime works in the container's cgroup before (and, for `exec`, while joining)
/// the container's command runs. Their credential set-up (SETUID, SETGID, SETPCAP, SYS_ADMIN...)
/// is not a need of the service. Matters where no exec gate applies (`--all`, `--unit`
/// attached, containers). Only granted checks are set-up: a denied one is evidence of a
/// failure whoever made it (the profile builder applies this).
pub fn setup_reason(comm: &str) -> Option<&'static str> {
    if comm.len() > 2 && comm.starts_with('(') && comm.ends_with(')') {
        return Some("made by the service manager's child before it exec'd the service (set-up, not a need)");
    }
    (CONTAINER_RUNTIME_COMMS.contains(&comm) || CONTAINER_RUNTIME_PREFIXES.iter().any(|prefix| comm.starts_with(prefix)))
        .then_some("made by the container runtime before the container's command ran (set-up, not a need)")
}

/// Why a call site is advisory, when one of its frames is a known no-audit site.
pub fn noaudit_site(frames: &[String]) -> Option<&'static str> {
    frames.iter().find_map(|frame| NOAUDIT_CALL_SITES.iter().find(|(site, _)| frame == site).map(|(_, reason)| *reason))
}

/// Whether one aggregation key is a no-audit check, and why. With `opts` (fexit, kprobe) the
/// kernel says so; without (tracepoint) every sampled call site must be a known no-audit site.
/// A key with no sampled call site counts as audited: the conservative side.
pub fn noaudit_reason(key_flags: u32, call_sites: &[Vec<String>]) -> Option<String> {
    if key_flags & flags::OPTS_KNOWN != 0 {
        return (key_flags & flags::NOAUDIT != 0)
            .then(|| call_sites.iter().find_map(|frames| noaudit_site(frames)).unwrap_or("checked with CAP_OPT_NOAUDIT").to_owned());
    }
    let reasons: Vec<&str> = call_sites.iter().map(|frames| noaudit_site(frames)).collect::<Option<_>>()?;
    reasons.first().map(|reason| (*reason).to_owned())
}

/// A capability's class from its counts of audited granted checks (those that were
/// file-permission fallbacks counted apart) and audited denied checks; `setup_only`: every other
/// check was made by set-up (`setup_reason`).
pub fn class_of(granted_audited: u64, granted_fallback: u64, denied_audited: u64, setup_only: bool) -> Class {
    if granted_audited > granted_fallback {
        Class::Required
    } else if granted_fallback > 0 {
        Class::Conditional
    } else if denied_audited > 0 {
        Class::Denied
    } else if setup_only {
        Class::Setup
    } else {
        Class::Advisory
    }
}

/// Which user namespaces a capability's checks were made against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Namespaces {
    /// Every check of the capability.
    pub checks: u64,
    /// Those against a user namespace other than the host's (initial) one.
    pub foreign: u64,
    /// Of `foreign`, those against a user namespace the target made itself (see [`Class::Userns`]).
    pub own: u64,
    /// The target is a rootless container: its own user namespace is the foreign one, where
    /// its capabilities (`--cap-add`) apply; it holds none in the host's.
    pub rootless: bool,
}

/// Why a capability has its class, in one line (profile `reason`); `noaudit_reason` is the
/// no-audit call site or set-up rule that made checks advisory.
pub fn reason_of(
    class: Class,
    granted_audited: u64,
    denied_audited: u64,
    top_syscall: &str,
    noaudit_reason: &str,
    namespaces: Namespaces,
) -> String {
    let mut reason = match class {
        Class::Required => format!("{granted_audited} granted audited check(s), mostly in {top_syscall}"),
        Class::Conditional => format!(
            "{granted_audited} granted check(s), all file-permission fallbacks (the mode bits had refused), mostly in {top_syscall}: possibly not needed"
        ),
        Class::Denied => {
            format!("denied {denied_audited} time(s) in {top_syscall} and never granted: evidence of a failure, not a recommendation")
        }
        Class::Userns => format!(
            "only checks in a user namespace the service made itself ({}): it holds every capability there whatever the unit's bounding set, so not a need of the unit",
            namespaces.own
        ),
        Class::Advisory => format!("only no-audit checks: {noaudit_reason}"),
        Class::Setup => format!("only set-up checks: {noaudit_reason}"),
    };
    let host = namespaces.checks.saturating_sub(namespaces.foreign);
    if namespaces.rootless {
        if namespaces.foreign > 0 {
            reason.push_str(&format!("; {} check(s) in the container's user namespace", namespaces.foreign));
        }
        if host > 0 {
            reason.push_str(&format!(
                "; {host} check(s) against the host's user namespace, where a rootless container holds no capability: no --cap-add grants it (a host setting or a rootful container can)"
            ));
        }
    } else if class != Class::Userns && namespaces.own > 0 {
        reason.push_str(&format!(
            "; {} check(s) in a user namespace the service made itself, where the bounding set does not limit it (not counted)",
            namespaces.own
        ));
    } else if namespaces.foreign > namespaces.own {
        reason.push_str(&format!("; {} check(s) against a non-initial user namespace", namespaces.foreign));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn drops_tracing_frames_and_stops_at_the_syscall_entry() {
        let raw = frames(&[
            "bpf_prog_123",
            "perf_trace_cap_capable",
            "cap_capable",
            "security_capable",
            "ns_capable",
            "__inet_bind",
            "__sys_bind",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ]);
        assert_eq!(call_site_frames(&raw), frames(&["cap_capable", "security_capable", "ns_capable", "__inet_bind", "__sys_bind"]));
    }

    #[test]
    fn starts_at_cap_capable_under_an_fexit_trampoline() {
        // fexit stacks begin inside the BPF trampoline, next to an unrelated symbol.
        let raw = frames(&["handshake_exit", "bpf_trampoline_6442507206", "cap_capable", "security_capable", "ns_capable"]);
        assert_eq!(call_site_frames(&raw), frames(&["cap_capable", "security_capable", "ns_capable"]));
        let kprobe = frames(&["security_capable", "ns_capable", "__inet_bind"]);
        assert_eq!(call_site_frames(&kprobe), kprobe, "a kprobe stack starts at the caller");
    }

    #[test]
    fn overcommit_checks_are_advisory_on_the_tracepoint() {
        let sites = vec![frames(&["cap_capable", "cap_vm_enough_memory", "security_vm_enough_memory_mm", "mmap_region"])];
        assert!(noaudit_reason(0, &sites).is_some_and(|reason| reason.contains("overcommit")));
    }

    #[test]
    fn one_audited_site_makes_the_key_audited() {
        let sites = vec![frames(&["cap_capable", "security_vm_enough_memory_mm"]), frames(&["cap_capable", "ns_capable", "__inet_bind"])];
        assert_eq!(noaudit_reason(0, &sites), None);
        assert_eq!(noaudit_reason(0, &[]), None, "no call site sampled: audited, conservatively");
    }

    #[test]
    fn opts_decide_when_the_backend_has_them() {
        assert!(noaudit_reason(flags::OPTS_KNOWN | flags::NOAUDIT, &[]).is_some());
        let bind = vec![frames(&["cap_capable", "security_vm_enough_memory_mm"])];
        assert_eq!(noaudit_reason(flags::OPTS_KNOWN, &bind), None, "opts say audited");
    }

    #[test]
    fn systemds_pre_exec_child_is_set_up() {
        assert!(setup_reason("(sd-pam)").is_some());
        assert!(setup_reason("(nginx)").is_some());
        assert!(setup_reason("nginx").is_none());
        assert!(setup_reason("()").is_none());
        for runtime in ["memfd:crun_clon", "crun", "runc:[2:INIT]", "conmon"] {
            assert!(setup_reason(runtime).is_some_and(|why| why.contains("container runtime")), "{runtime}");
        }
        assert!(setup_reason("httpd").is_none());
        assert!(setup_reason("crunchy").is_none());
    }

    #[test]
    fn classes_follow_the_counts() {
        assert_eq!(class_of(1, 0, 5, false), Class::Required);
        assert_eq!(class_of(3, 2, 0, false), Class::Required, "one granted check that is not a fallback: required");
        assert_eq!(class_of(2, 2, 0, false), Class::Conditional, "only fallbacks: conditional");
        assert_eq!(class_of(0, 0, 5, false), Class::Denied);
        assert_eq!(class_of(0, 0, 5, true), Class::Denied, "an audited denial outweighs set-up");
        assert_eq!(class_of(0, 0, 0, false), Class::Advisory);
        assert_eq!(class_of(0, 0, 0, true), Class::Setup, "only set-up checks");
        assert_eq!(class_of(1, 0, 0, true), Class::Required, "the service's own check outweighs set-up");
    }
}
