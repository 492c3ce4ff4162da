//! The sandboxing a recording allows: for each setting `systemd-analyze security` scores, the
//! tightest value that what the service did (`profile::Activity`: the calls it made, the paths it
//! wrote, the families it opened...) still allows, with why. These are candidates, not a
//! result: `minimize --sandbox` tries them through the unit's life and keeps what passes. A
//! setting the unit already has is never loosened: it is left out, and the unit's own value
//! stays.
use std::collections::BTreeSet;

use crate::{
    profile::Activity,
    sandbox::{Settings, SyscallGroups},
};

/// One setting proposed, with its lines (`SystemCallFilter=` takes several) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub key: &'static str,
    /// The values, one `KEY=VALUE` line each, in order.
    pub values: Vec<String>,
    pub why: String,
}

impl Candidate {
    fn new(key: &'static str, value: impl Into<String>, why: impl Into<String>) -> Self {
        Self { key, values: vec![value.into()], why: why.into() }
    }

    /// Its lines, `KEY=VALUE`.
    pub fn lines(&self) -> Vec<String> {
        self.values.iter().map(|value| format!("{}={value}", self.key)).collect()
    }
}

/// What the candidates are derived from.
pub struct Inputs<'a> {
    pub activity: &'a Activity,
    /// The executables the service ran.
    pub executables: &'a [String],
    /// The unit's settings now (never loosened).
    pub settings: &'a Settings,
    /// This host's system-call groups.
    pub groups: &'a SyscallGroups,
    /// The capability set the service keeps (settings that drop one of them are left out).
    pub capabilities: &'a [String],
}

/// Every setting `candidates` may propose: what a proof of the sandboxing covers (`lint`).
pub const SETTINGS: [&str; 28] = [
    "ProtectSystem",
    "ReadWritePaths",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectClock",
    "ProtectHostname",
    "ProtectProc",
    "ProcSubset",
    "RestrictAddressFamilies",
    "PrivateNetwork",
    "RestrictNamespaces",
    "PrivateMounts",
    "PrivateIPC",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "SystemCallArchitectures",
    "SystemCallFilter",
    "SystemCallErrorNumber",
    "StateDirectory",
    "LogsDirectory",
    "RuntimeDirectory",
];

/// The unit's own sandboxing lines (`KEY=VALUE`, merged as systemd merges them), of the settings
/// a proof covers: what every trial of the proof ran with besides the proposed lines.
pub fn own_lines(settings: &Settings) -> Vec<String> {
    SETTINGS.iter().filter(|key| !settings.get(key).is_empty()).map(|key| format!("{key}={}", settings.get(key))).collect()
}

/// The settings whose value now differs from what the proof covered (`covered`: the unit's own
/// lines when proven, then the lines the proof kept): (setting, now, covered), booleans compared
/// by meaning.
pub fn uncovered(now: &Settings, covered: &Settings) -> Vec<(&'static str, String, String)> {
    let canonical = |value: &str| match value {
        "yes" | "true" | "1" | "on" => "yes".to_owned(),
        "no" | "false" | "0" | "off" => String::new(),
        other => {
            // Lists merged from several files: the same items in another order are the same.
            let mut items: Vec<&str> = other.split_whitespace().collect();
            items.sort_unstable();
            items.join(" ")
        }
    };
    SETTINGS
        .iter()
        .filter(|key| canonical(now.get(key)) != canonical(covered.get(key)))
        .map(|key| (*key, now.get(key).to_owned(), covered.get(key).to_owned()))
        .collect()
}

/// Devices `PrivateDevices=yes` still provides.
const PRIVATE_DEVICES: [&str; 14] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts/",
    "/dev/shm/",
    "/dev/mqueue/",
    "/dev/hugepages/",
    "/dev/fd/",
    "/dev/log",
    "/dev/std",
];

/// System calls of System V IPC and POSIX message queues (`PrivateIPC=`).
const IPC_CALLS: [&str; 15] = [
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
];

/// The groups an allow-list removes from `@system-service` because systemd scores them.
const DENIED_GROUPS: [&str; 2] = ["@privileged", "@resources"];

pub fn candidates(inputs: &Inputs<'_>) -> Vec<Candidate> {
    let activity = inputs.activity;
    let unset = |key: &str| matches!(inputs.settings.get(key), "" | "no" | "false" | "0" | "off");
    // `systemctl show` prints an unset list setting as an empty deny-list: `~`.
    let unset_list = |key: &str| matches!(inputs.settings.get(key), "" | "~");
    let called = |names: &[&str]| -> Vec<String> {
        names.iter().filter(|name| activity.syscalls.contains_key(**name)).map(|name| (*name).to_owned()).collect()
    };
    let keeps = |cap: &str| inputs.capabilities.iter().any(|kept| kept == cap);
    let paths = |prefix: &'static str| activity.paths.iter().filter(move |used| used.path.starts_with(prefix));
    let mut out = Vec::new();

    // File system.
    let strictness = |value: &str| match value {
        "strict" => 3,
        "full" => 2,
        "yes" | "true" | "1" => 1,
        _ => 0,
    };
    if strictness(inputs.settings.get("ProtectSystem")) < 3 {
        let (writable, unplaced) = writable_dirs(activity, inputs.settings);
        let mut candidate =
            Candidate::new("ProtectSystem", "strict", "the whole file system read-only but /dev, /proc, /sys: it wrote nothing else");
        if !writable.is_empty() {
            candidate.why = format!("the whole file system read-only but /dev, /proc, /sys and what it wrote ({})", writable.join(", "));
        }
        if unplaced > 0 {
            candidate.why.push_str(&format!(
                "; {unplaced} path(s) it wrote were relative to a directory descriptor or a working directory it changed: a trial decides"
            ));
        }
        out.push(candidate);
        if !writable.is_empty() {
            out.push(Candidate { key: "ReadWritePaths", values: vec![writable.join(" ")], why: "the directories it wrote in".into() });
        }
    }
    if unset("ProtectHome") {
        let home = ["/home", "/root", "/run/user"];
        let in_home = |path: &str| home.iter().any(|dir| path == *dir || path.starts_with(&format!("{dir}/")));
        let used: Vec<&str> = activity.paths.iter().map(|used| used.path.as_str()).filter(|path| in_home(path)).collect();
        let ran = inputs.executables.iter().any(|exe| in_home(exe));
        let wrote = activity.written().any(|used| in_home(&used.path));
        if !wrote {
            if used.is_empty() && !ran {
                out.push(Candidate::new("ProtectHome", "yes", "it used nothing under /home, /root or /run/user"));
            } else {
                out.push(Candidate::new("ProtectHome", "read-only", "it read under /home, /root or /run/user but wrote nothing there"));
            }
        }
    }
    if unset("PrivateTmp") {
        let tmp = paths("/tmp/").chain(paths("/var/tmp/")).count();
        out.push(Candidate::new(
            "PrivateTmp",
            "yes",
            format!("/tmp and /var/tmp its own ({tmp} path(s) there); a file shared there with another service is not seen by a trial"),
        ));
    }
    if unset("PrivateDevices") && !keeps("CAP_MKNOD") && !keeps("CAP_SYS_RAWIO") {
        let devices: BTreeSet<&str> = paths("/dev/")
            .map(|used| used.path.as_str())
            .filter(|path| {
                !PRIVATE_DEVICES
                    .iter()
                    .any(|kept| path == kept || (kept.ends_with('/') && path.starts_with(kept)) || path.starts_with("/dev/std"))
            })
            .collect();
        if devices.is_empty() {
            out.push(Candidate::new("PrivateDevices", "yes", "it opened no device but the pseudo-devices PrivateDevices= keeps"));
        }
    }

    // The kernel.
    let wrote_under = |prefix: &str| activity.written().any(|used| used.path.starts_with(prefix));
    if unset("ProtectKernelTunables") && !wrote_under("/proc/sys") && !wrote_under("/sys/") {
        out.push(Candidate::new("ProtectKernelTunables", "yes", "it wrote nothing under /proc/sys or /sys"));
    }
    let module_calls = called(&["init_module", "finit_module", "delete_module"]);
    let ran_modprobe =
        inputs.executables.iter().any(|exe| exe.ends_with("/modprobe") || exe.ends_with("/kmod") || exe.ends_with("/insmod"));
    if unset("ProtectKernelModules") && module_calls.is_empty() && !ran_modprobe && !keeps("CAP_SYS_MODULE") {
        out.push(Candidate::new("ProtectKernelModules", "yes", "it loaded no kernel module"));
    }
    let log_reads = paths("/dev/kmsg").count() + paths("/proc/kmsg").count();
    if unset("ProtectKernelLogs") && called(&["syslog"]).is_empty() && log_reads == 0 && !keeps("CAP_SYSLOG") {
        out.push(Candidate::new("ProtectKernelLogs", "yes", "it read no kernel log (syslog(2), /dev/kmsg, /proc/kmsg)"));
    }
    if unset("ProtectControlGroups") && !wrote_under("/sys/fs/cgroup") {
        out.push(Candidate::new("ProtectControlGroups", "yes", "it wrote nothing under /sys/fs/cgroup"));
    }
    let clock_calls: Vec<String> = activity.syscalls.keys().filter(|call| inputs.groups.covers("@clock", call)).cloned().collect();
    if unset("ProtectClock")
        && clock_calls.is_empty()
        && paths("/dev/rtc").count() == 0
        && !keeps("CAP_SYS_TIME")
        && !keeps("CAP_WAKE_ALARM")
    {
        out.push(Candidate::new("ProtectClock", "yes", "it made no @clock call and opened no /dev/rtc"));
    }
    if unset("ProtectHostname") && called(&["sethostname", "setdomainname"]).is_empty() {
        out.push(Candidate::new("ProtectHostname", "yes", "it set no host or domain name"));
    }
    let proc_entries: BTreeSet<&str> = paths("/proc/").filter_map(|used| used.path.split('/').nth(2)).collect();
    let other_pids = proc_entries.iter().any(|entry| entry.chars().all(|c| c.is_ascii_digit()));
    if matches!(inputs.settings.get("ProtectProc"), "" | "default") && !other_pids {
        out.push(Candidate::new("ProtectProc", "invisible", "it opened no process's /proc/PID (only its own, as /proc/self)"));
    }
    let beyond_pids: Vec<&str> = proc_entries
        .iter()
        .filter(|entry| !entry.chars().all(|c| c.is_ascii_digit()) && !matches!(**entry, "self" | "thread-self"))
        .copied()
        .collect();
    if matches!(inputs.settings.get("ProcSubset"), "" | "all") && beyond_pids.is_empty() {
        out.push(Candidate::new("ProcSubset", "pid", "it opened nothing in /proc but processes' own entries"));
    }

    // What it may ask the kernel for.
    if unset_list("RestrictAddressFamilies") {
        if activity.families.is_empty() {
            out.push(Candidate::new("RestrictAddressFamilies", "none", "it opened no socket"));
        } else {
            let families = activity.families.join(" ");
            out.push(Candidate::new("RestrictAddressFamilies", families.clone(), format!("the families it opened: {families}")));
        }
    }
    let only_local = activity.families.iter().all(|family| family == "AF_UNIX");
    if unset("PrivateNetwork") && only_local {
        out.push(Candidate::new("PrivateNetwork", "yes", "it opened no socket but AF_UNIX: its own network namespace, loopback only"));
    }
    if unset("RestrictNamespaces") && !activity.namespaces.iter().any(|kind| kind == "any") {
        if activity.namespaces.is_empty() {
            out.push(Candidate::new("RestrictNamespaces", "yes", "it made or joined no namespace"));
        } else {
            let kinds = activity.namespaces.join(" ");
            out.push(Candidate::new("RestrictNamespaces", kinds.clone(), format!("the namespaces it made or joined: {kinds}")));
        }
    }
    if unset("PrivateMounts") && called(&["mount", "umount2", "move_mount", "fsmount"]).is_empty() {
        out.push(Candidate::new("PrivateMounts", "yes", "it mounted nothing"));
    }
    let ipc = called(&IPC_CALLS);
    if unset("PrivateIPC") && ipc.is_empty() {
        out.push(Candidate::new("PrivateIPC", "yes", "it used no System V IPC or POSIX message queue"));
    }
    if unset("LockPersonality") && activity.personalities.is_empty() {
        out.push(Candidate::new("LockPersonality", "yes", "it changed no personality"));
    }
    if unset("MemoryDenyWriteExecute") && activity.write_exec.is_empty() {
        out.push(Candidate::new("MemoryDenyWriteExecute", "yes", "it mapped no memory writable and executable, nor made any executable"));
    }
    if unset("RestrictRealtime") && activity.realtime.is_empty() {
        out.push(Candidate::new("RestrictRealtime", "yes", "it asked for no realtime scheduling"));
    }
    if unset("RestrictSUIDSGID") && activity.set_id.is_empty() {
        out.push(Candidate::new("RestrictSUIDSGID", "yes", "it set no setuid or setgid bit"));
    }
    if inputs.settings.get("SystemCallArchitectures").is_empty() {
        out.push(Candidate::new("SystemCallArchitectures", "native", "only this architecture's system calls"));
    }
    if unset_list("SystemCallFilter") && !inputs.groups.is_empty() {
        out.push(system_call_filter(activity, inputs.groups));
        if unset("SystemCallErrorNumber") {
            out.push(Candidate::new(
                "SystemCallErrorNumber",
                "EPERM",
                "a call the filter refuses fails with EPERM (not a kill), and the trial's evidence names it",
            ));
        }
    }
    out
}

/// `@system-service` without the groups systemd scores, then the calls it made that those lines
/// leave out: an allow-list of what it did, in the host's groups.
fn system_call_filter(activity: &Activity, groups: &SyscallGroups) -> Candidate {
    let base: BTreeSet<String> = groups.expand("@system-service").into_iter().collect();
    let denied: BTreeSet<String> = DENIED_GROUPS.iter().flat_map(|group| groups.expand(group)).collect();
    let known: BTreeSet<String> = groups.expand("@known").into_iter().collect();
    let back: Vec<String> = activity
        .syscalls
        .keys()
        .filter(|call| known.is_empty() || known.contains(*call))
        .filter(|call| !base.contains(*call) || denied.contains(*call))
        .cloned()
        .collect();
    let mut values = vec!["@system-service".to_owned(), format!("~{}", DENIED_GROUPS.join(" "))];
    let mut why =
        format!("the {} system calls it made, in @system-service without {}", activity.syscalls.len(), DENIED_GROUPS.join(" and "));
    if !back.is_empty() {
        values.push(back.join(" "));
        why.push_str(&format!(", and {} it made outside that", back.join(" ")));
    }
    Candidate { key: "SystemCallFilter", values, why }
}

/// The directories it wrote in, each once (none inside another), outside what stays writable
/// (`/dev`, `/proc`, `/sys`; `/tmp` and `/var/tmp` with `PrivateTmp=`); and how many paths it
/// wrote that cannot be placed (relative to a directory descriptor, or to a working directory
/// after a `chdir`).
fn writable_dirs(activity: &Activity, settings: &Settings) -> (Vec<String>, usize) {
    let cwd = match settings.get("WorkingDirectory") {
        "" => "/".to_owned(),
        dir => dir.trim_start_matches(['-', '~']).to_owned(),
    };
    // A service that changes its working directory writes relative to one the recording does
    // not know.
    let moved = ["chdir", "fchdir"].iter().any(|call| activity.syscalls.contains_key(*call));
    let mut unplaced = 0;
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for used in activity.written() {
        if used.beside_fd || (moved && !used.path.starts_with('/')) {
            unplaced += 1;
            continue;
        }
        let path = if used.path.starts_with('/') { used.path.clone() } else { format!("{}/{}", cwd.trim_end_matches('/'), used.path) };
        let stays = ["/dev/", "/proc/", "/sys/", "/tmp/", "/var/tmp/"];
        if stays.iter().any(|dir| path.starts_with(dir)) || settings.paths("ReadWritePaths").iter().any(|dir| within(&path, dir)) {
            continue;
        }
        let parent = match path.rsplit_once('/') {
            Some(("", _)) | None => path.clone(),
            Some((parent, _)) => parent.to_owned(),
        };
        dirs.insert(parent);
    }
    let all: Vec<String> = dirs.iter().cloned().collect();
    let outermost = all.iter().filter(|dir| !all.iter().any(|other| other != *dir && within(dir, other))).cloned().collect();
    (outermost, unplaced)
}

/// `path` is `dir` or under it.
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PathUse;

    fn groups() -> SyscallGroups {
        SyscallGroups::parse(
            "@default\n    brk\n@clock\n    adjtimex\n@setuid\n    setuid\n@resources\n    setrlimit\n@privileged\n    @clock\n    @setuid\n    chown\n@system-service\n    @default\n    @setuid\n    read\n    write\n    socket\n    chown\n    setrlimit\n@known\n    brk\n    adjtimex\n    setuid\n    chown\n    read\n    write\n    socket\n    setrlimit\n    reboot\n",
        )
    }

    fn written(path: &str) -> PathUse {
        PathUse { path: path.into(), written: true, beside_fd: false, syscalls: vec!["openat".into()], count: 1 }
    }

    fn nginx_like() -> Activity {
        let mut activity = Activity::default();
        for call in ["read", "write", "socket", "setuid", "chown", "brk"] {
            activity.syscalls.insert(call.into(), 3);
        }
        activity.families = vec!["AF_INET".into(), "AF_INET6".into(), "AF_UNIX".into()];
        activity.paths = vec![
            written("/run/nginx.pid"),
            written("/var/log/nginx/access.log"),
            written("/var/log/nginx/error.log"),
            written("/var/log/nginx"),
            written("/dev/null"),
            written("/tmp/x"),
            PathUse { written: false, ..written("/proc/self/status") },
        ];
        activity
    }

    fn derive(activity: &Activity, settings: &str, caps: &[&str]) -> Vec<Candidate> {
        let settings = Settings::from_lines("x.service", settings);
        let caps: Vec<String> = caps.iter().map(|cap| (*cap).to_owned()).collect();
        candidates(&Inputs {
            activity,
            executables: &["/usr/sbin/nginx".into()],
            settings: &settings,
            groups: &groups(),
            capabilities: &caps,
        })
    }

    fn value<'a>(candidates: &'a [Candidate], key: &str) -> Option<&'a [String]> {
        candidates.iter().find(|candidate| candidate.key == key).map(|candidate| candidate.values.as_slice())
    }

    #[test]
    fn what_it_wrote_stays_writable_and_nothing_else() {
        let out = derive(&nginx_like(), "", &["CAP_SETUID"]);
        assert_eq!(value(&out, "ProtectSystem"), Some(&["strict".to_owned()][..]));
        // /dev and /tmp stay writable anyway; /var/log/nginx (written as a directory too) once.
        assert_eq!(value(&out, "ReadWritePaths"), Some(&["/run /var/log".to_owned()][..]), "{out:?}");
    }

    #[test]
    fn a_relative_write_after_a_chdir_is_left_to_a_trial_and_before_one_is_placed_in_the_working_directory() {
        let mut activity = Activity::default();
        activity.syscalls.insert("openat".into(), 1);
        activity.paths = vec![written("state/count")];
        let out = derive(&activity, "WorkingDirectory=/var/lib/tally\n", &[]);
        assert_eq!(value(&out, "ReadWritePaths"), Some(&["/var/lib/tally/state".to_owned()][..]), "{out:?}");
        activity.syscalls.insert("chdir".into(), 1);
        let out = derive(&activity, "WorkingDirectory=/var/lib/tally\n", &[]);
        assert!(value(&out, "ReadWritePaths").is_none(), "{out:?}");
        let strict = out.iter().find(|candidate| candidate.key == "ProtectSystem").expect("ProtectSystem");
        assert!(strict.why.contains("working directory it changed: a trial decides"), "{}", strict.why);
    }

    #[test]
    fn the_filter_allows_what_it_called_and_scores() {
        let out = derive(&nginx_like(), "", &[]);
        let filter = value(&out, "SystemCallFilter").expect("a filter");
        assert_eq!(filter, ["@system-service", "~@privileged @resources", "chown setuid"]);
        assert_eq!(value(&out, "SystemCallErrorNumber"), Some(&["EPERM".to_owned()][..]));
        assert_eq!(value(&out, "RestrictAddressFamilies"), Some(&["AF_INET AF_INET6 AF_UNIX".to_owned()][..]));
        assert!(value(&out, "PrivateNetwork").is_none(), "it opened Internet sockets");
        assert_eq!(value(&out, "ProtectClock"), Some(&["yes".to_owned()][..]));
        assert_eq!(value(&out, "ProcSubset"), Some(&["pid".to_owned()][..]));
    }

    #[test]
    fn what_it_did_keeps_a_setting_out() {
        let mut activity = nginx_like();
        activity.syscalls.insert("adjtimex".into(), 1);
        activity.write_exec = vec!["mmap PROT_WRITE|PROT_EXEC".into()];
        activity.namespaces = vec!["net".into()];
        activity.families = vec!["AF_UNIX".into()];
        activity.paths.push(PathUse { written: false, ..written("/dev/sda") });
        activity.paths.push(PathUse { written: false, ..written("/proc/1/status") });
        let out = derive(&activity, "", &[]);
        for key in ["ProtectClock", "MemoryDenyWriteExecute", "PrivateDevices", "ProtectProc"] {
            assert!(value(&out, key).is_none(), "{key}: {out:?}");
        }
        assert_eq!(value(&out, "RestrictNamespaces"), Some(&["net".to_owned()][..]));
        assert_eq!(value(&out, "PrivateNetwork"), Some(&["yes".to_owned()][..]), "AF_UNIX only");
    }

    #[test]
    fn a_setting_the_unit_has_is_never_loosened() {
        let out = derive(
            &nginx_like(),
            "ProtectSystem=strict\nReadWritePaths=/var/log\nPrivateTmp=yes\nSystemCallFilter=~@mount\nRestrictAddressFamilies=AF_INET",
            &[],
        );
        for key in ["ProtectSystem", "ReadWritePaths", "PrivateTmp", "SystemCallFilter", "SystemCallErrorNumber", "RestrictAddressFamilies"]
        {
            assert!(value(&out, key).is_none(), "{key}: {out:?}");
        }
        let out = derive(&nginx_like(), "ProtectSystem=full\nReadWritePaths=/var/log", &[]);
        assert_eq!(value(&out, "ProtectSystem"), Some(&["strict".to_owned()][..]), "full is tightened");
        assert_eq!(value(&out, "ReadWritePaths"), Some(&["/run".to_owned()][..]), "the unit's own path is not repeated");
    }

    #[test]
    fn lists_systemctl_shows_unset_are_unset() {
        let out =
            derive(&nginx_like(), "RestrictAddressFamilies=~\nSystemCallFilter=~\nSystemCallErrorNumber=\nRestrictNamespaces=no", &[]);
        for key in ["RestrictAddressFamilies", "SystemCallFilter", "SystemCallErrorNumber", "RestrictNamespaces"] {
            assert!(value(&out, key).is_some(), "{key}: {out:?}");
        }
    }

    #[test]
    fn a_line_added_after_the_proof_is_not_covered() {
        let covered = Settings::from_lines("x.service", "ProtectSystem=strict\nReadWritePaths=/run\nPrivateTmp=yes\n");
        let same = Settings::from_lines("x.service", "ProtectSystem=strict\nReadWritePaths=/run\nPrivateTmp=true\n");
        assert!(uncovered(&same, &covered).is_empty(), "true is yes");
        let changed = Settings::from_lines("x.service", "ProtectSystem=strict\nReadWritePaths=/run\nPrivateTmp=yes\nProtectHome=yes\n");
        assert_eq!(uncovered(&changed, &covered), vec![("ProtectHome", "yes".to_owned(), String::new())]);
        assert_eq!(own_lines(&covered), ["ProtectSystem=strict", "ReadWritePaths=/run", "PrivateTmp=yes"]);
    }

    #[test]
    fn a_kept_capability_keeps_its_setting_out() {
        let out = derive(&nginx_like(), "", &["CAP_SYS_TIME", "CAP_SYS_RAWIO"]);
        assert!(value(&out, "ProtectClock").is_none());
        assert!(value(&out, "PrivateDevices").is_none());
    }
}
