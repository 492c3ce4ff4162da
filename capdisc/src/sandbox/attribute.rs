//! Which setting refused a call, and the narrowest line that would allow it: read from the
//! unit's settings as systemd loaded them, the path the call named and, for system-call groups,
//! this host's own systemd. Never "remove the filter": a group, a family, a path.
use crate::kernel::syscalls::NAMESPACES;

use super::{settings::SECCOMP_SETTINGS, Refused, RefusedBy, Settings, SyscallGroups};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The setting that refused the call, as a unit line (`SystemCallFilter=~@privileged`);
    /// None when no setting of the unit explains it (not a unit, or not its settings).
    pub setting: Option<String>,
    /// Why, in words.
    pub why: String,
    /// The narrowest drop-in line that allows the call (not tried: a trial proves it).
    pub fix: Option<String>,
    /// Another line that does as well (`StateDirectory=counter` for `ReadWritePaths=...`).
    pub alternative: Option<String>,
}

impl Attribution {
    fn new(setting: Option<String>, why: String, fix: Option<String>) -> Self {
        Self { setting, why, fix, alternative: None }
    }

    /// `ReadWritePaths=/var/lib/x (or StateDirectory=x)`, or the fix alone; None without one.
    pub fn fix_text(&self) -> Option<String> {
        fix_text(self.fix.as_deref(), self.alternative.as_deref())
    }
}

/// A fix and the line that does as well, as one text.
pub fn fix_text(fix: Option<&str>, alternative: Option<&str>) -> Option<String> {
    match (fix, alternative) {
        (Some(fix), Some(alternative)) => Some(format!("{fix} (or {alternative})")),
        (Some(fix), None) => Some(fix.to_owned()),
        (None, _) => None,
    }
}

/// What refused `refused`: for a unit (`settings`), its setting; otherwise what the kernel's
/// evidence says alone. None for a file-permission failure no sandbox setting explains (the
/// file's own mode bits: not the sandbox).
pub fn attribute(refused: &Refused, settings: Option<&Settings>, groups: &SyscallGroups) -> Option<Attribution> {
    match refused.kind {
        RefusedBy::Seccomp => return Some(filtered(refused, settings, groups)),
        RefusedBy::Exec => return Some(no_gain(refused, settings)),
        RefusedBy::FileSystem => {}
    }
    let errno = refused.errno()?;
    let path = refused.path.as_deref();
    match errno.as_str() {
        // A relative path too: the setting is known, only the directory is not.
        "EROFS" => Some(read_only(path, settings)),
        "EACCES" | "EPERM" => inaccessible(path.filter(|path| path.starts_with('/'))?, settings?),
        _ => None,
    }
}

/// A call refused at entry: the seccomp-based settings that cover it, the narrowest first.
fn filtered(refused: &Refused, settings: Option<&Settings>, groups: &SyscallGroups) -> Attribution {
    let call = refused.syscall.as_str();
    let in_group = |group: &str| groups.covers(group, call);
    if let Some(settings) = settings {
        let flag = |key: &str, applies: bool, why: String| -> Option<Attribution> {
            (settings.yes(key) && applies).then(|| Attribution::new(Some(format!("{key}=yes")), why, Some(format!("{key}=no"))))
        };
        let chosen = flag("ProtectClock", in_group("@clock"), format!("{call} is in @clock, which ProtectClock= refuses"))
            .or_else(|| {
                flag("ProtectKernelModules", in_group("@module"), format!("{call} is in @module, which ProtectKernelModules= refuses"))
            })
            .or_else(|| flag("ProtectKernelLogs", call == "syslog", "ProtectKernelLogs= refuses syslog()".into()))
            .or_else(|| {
                flag("ProtectHostname", matches!(call, "sethostname" | "setdomainname"), format!("ProtectHostname= refuses {call}()"))
            })
            .or_else(|| flag("LockPersonality", call == "personality", "LockPersonality= refuses a change of personality".into()))
            .or_else(|| {
                flag(
                    "RestrictRealtime",
                    matches!(call, "sched_setscheduler" | "sched_setattr"),
                    "RestrictRealtime= refuses realtime scheduling".into(),
                )
            })
            .or_else(|| {
                flag(
                    "MemoryDenyWriteExecute",
                    matches!(call, "mmap" | "mprotect" | "pkey_mprotect" | "shmat"),
                    format!("MemoryDenyWriteExecute= refuses memory both writable and executable ({call} with PROT_EXEC)"),
                )
            })
            .or_else(|| {
                flag("RestrictSUIDSGID", suid_sgid_call(call), format!("RestrictSUIDSGID= refuses setting a setuid or setgid bit ({call})"))
            })
            .or_else(|| flag("PrivateDevices", in_group("@raw-io"), format!("{call} is in @raw-io, which PrivateDevices= refuses")))
            .or_else(|| address_family(refused, settings))
            .or_else(|| namespaces(refused, settings))
            .or_else(|| system_call_filter(call, settings, groups));
        if let Some(attribution) = chosen {
            return attribution;
        }
    }
    let group = groups.narrowest_group(call).map(|group| format!(" ({call} is in systemd's {group})")).unwrap_or_default();
    let whose = match settings {
        Some(_) => "none of the unit's settings refuses it: the service's own filter",
        None => "not a unit's setting: the target's own filter, or its runtime's",
    };
    Attribution::new(None, format!("{whose}{group}"), None)
}

fn suid_sgid_call(call: &str) -> bool {
    matches!(call, "chmod" | "fchmod" | "fchmodat" | "fchmodat2" | "mkdir" | "mkdirat" | "mknod" | "mknodat" | "open" | "openat" | "creat")
}

/// An exec of a setuid or setgid file that gained nothing: `NoNewPrivileges=` when the task had
/// `no_new_privs` (set by the unit, or implied by its seccomp settings for a service without
/// CAP_SYS_ADMIN), otherwise a nosuid mount.
fn no_gain(refused: &Refused, settings: Option<&Settings>) -> Attribution {
    let gain = refused.gain();
    let file = refused.path.as_deref().unwrap_or("the file");
    if !gain.no_new_privs {
        return Attribution::new(None, format!("{file} is on a nosuid mount (no_new_privs was not set)"), None);
    }
    let helper = format!("{file} runs without the privileges its set-id bit would give");
    let fix = "grant what the helper needs to the service itself (AmbientCapabilities=, a group), or NoNewPrivileges=no".to_owned();
    match settings {
        Some(settings) if settings.yes("NoNewPrivileges") => {
            Attribution::new(Some("NoNewPrivileges=yes".into()), format!("it makes the kernel ignore set-id bits: {helper}"), Some(fix))
        }
        Some(settings) => {
            let implied: Vec<&str> = SECCOMP_SETTINGS.iter().copied().filter(|key| settings_set(settings, key)).collect();
            let setting = (!implied.is_empty()).then(|| format!("{}= (they imply NoNewPrivileges=yes)", implied.join("=, ")));
            Attribution::new(setting, format!("no_new_privs was set: {helper}"), Some(fix))
        }
        None => Attribution::new(None, format!("no_new_privs was set on the process (PR_SET_NO_NEW_PRIVS, inherited): {helper}"), None),
    }
}

fn settings_set(settings: &Settings, key: &str) -> bool {
    !matches!(settings.get(key), "" | "no" | "false" | "0" | "off")
}

/// `SystemCallFilter=`: the written line that took the call away, the group chain, and the
/// smallest group that gives it back.
fn system_call_filter(call: &str, settings: &Settings, groups: &SyscallGroups) -> Option<Attribution> {
    list_refuses(settings.get("SystemCallFilter"), call)?;
    let lines: Vec<&str> = settings.filter_lines.iter().map(|(_, line)| line.as_str()).collect();
    // The last written deny item that covers the call took it away; with none, an allow-list
    // never had it.
    let culprit = lines.iter().rev().find_map(|line| {
        let items = line.strip_prefix('~')?;
        items.split_whitespace().find_map(|item| groups.path_to(item, call, 0).map(|path| (format!("SystemCallFilter=~{item}"), path)))
    });
    // systemd shows the number (`1`) where the unit file says the name (`EPERM`).
    let errno = match settings.get("SystemCallErrorNumber") {
        "" => String::new(),
        value => match value.parse::<u64>() {
            Ok(number) => format!(" (SystemCallErrorNumber={})", crate::kernel::errno::name(number)),
            Err(_) => format!(" (SystemCallErrorNumber={value})"),
        },
    };
    // The deny-list item that refused it (`@privileged`): a fix never allows that whole item.
    let refusing = culprit.as_ref().map(|(setting, _)| setting.trim_start_matches("SystemCallFilter=~").to_owned());
    let (setting, why) = match culprit {
        Some((setting, path)) if path.len() > 1 => {
            let mut chain: Vec<&str> = path.iter().map(String::as_str).collect();
            chain.reverse();
            (setting, format!("{call} is in {}{errno}", chain.join(", inside ")))
        }
        Some((setting, _)) => (setting, format!("{call} is named there{errno}")),
        None => {
            let allow = lines.iter().find(|line| !line.starts_with('~')).map(|line| format!("SystemCallFilter={line}"));
            let setting = allow.unwrap_or_else(|| "SystemCallFilter=".to_owned());
            let home = groups.narrowest_group(call).map(|group| format!(" (it is in {group})")).unwrap_or_default();
            (setting, format!("the allow-list does not have {call}{home}{errno}"))
        }
    };
    let fix = match groups.narrowest_group(call) {
        Some(group) if Some(&group) != refusing.as_ref() => group,
        // Named in the refusing group itself (`capset` in @privileged): the call alone.
        _ => call.to_owned(),
    };
    Some(Attribution::new(Some(setting), why, Some(format!("SystemCallFilter={fix}"))))
}

/// Whether a list setting as `systemctl show` prints it (an allow-list, or a `~` deny-list)
/// refuses `item`: `Some(true)` when its deny-list names it, `Some(false)` when its allow-list
/// leaves it out, None when it allows it (or is unset).
fn list_refuses(loaded: &str, item: &str) -> Option<bool> {
    if loaded.is_empty() {
        return None;
    }
    let (deny_list, names) = match loaded.strip_prefix('~') {
        Some(names) => (true, names),
        None => (false, loaded),
    };
    let listed = names.split_whitespace().any(|name| name == item);
    (listed == deny_list).then_some(deny_list)
}

/// `RestrictAddressFamilies=`: a socket of a family it leaves out (the call's first argument).
fn address_family(refused: &Refused, settings: &Settings) -> Option<Attribution> {
    if !matches!(refused.syscall.as_str(), "socket" | "socketpair") {
        return None;
    }
    let loaded = settings.get("RestrictAddressFamilies");
    if loaded == "none" {
        return None;
    }
    let family = family_name(refused.args[0] as u32);
    let deny_list = list_refuses(loaded, &family)?;
    let why = if deny_list { format!("{family} is in its deny-list") } else { format!("{family} is not among the families it allows") };
    Some(Attribution::new(Some(format!("RestrictAddressFamilies={loaded}")), why, Some(format!("RestrictAddressFamilies={family}"))))
}

/// `RestrictNamespaces=`: unshare, setns or clone asking for a namespace it does not allow.
fn namespaces(refused: &Refused, settings: &Settings) -> Option<Attribution> {
    let flags = match refused.syscall.as_str() {
        "unshare" | "clone" => refused.args[0],
        "setns" => refused.args[1],
        "clone3" => 0,
        _ => return None,
    };
    let loaded = settings.get("RestrictNamespaces");
    if loaded.is_empty() || loaded == "no" {
        return None;
    }
    let asked: Vec<&str> = NAMESPACES.iter().filter(|(bit, _)| flags & u64::from(*bit) != 0).map(|(_, name)| *name).collect();
    let fix = (!asked.is_empty()).then(|| format!("RestrictNamespaces={}", asked.join(" ")));
    let what = if asked.is_empty() { "a new namespace".to_owned() } else { format!("a new {} namespace", asked.join(", ")) };
    Some(Attribution::new(Some(format!("RestrictNamespaces={loaded}")), format!("{}() asked for {what}", refused.syscall), fix))
}

/// A write refused with EROFS: which setting made the path read-only, and the narrowest line
/// that makes it writable.
fn read_only(path: Option<&str>, settings: Option<&Settings>) -> Attribution {
    let (Some(path), Some(settings)) = (path, settings) else {
        return Attribution::new(None, "a read-only mount".into(), None);
    };
    let under = |dir: &str| path == dir || path.starts_with(&format!("{}/", dir.trim_end_matches('/')));
    if settings.paths("ReadWritePaths").iter().any(|dir| under(dir)) {
        return Attribution::new(None, format!("a read-only mount, although ReadWritePaths= covers {path}"), None);
    }
    let system = settings.get("ProtectSystem");
    let home = settings.get("ProtectHome");
    let setting = if let Some(dir) = settings.paths("ReadOnlyPaths").into_iter().find(|dir| under(dir)) {
        Some(format!("ReadOnlyPaths={dir}"))
    } else if home == "read-only" && ["/home", "/root", "/run/user"].iter().any(|dir| under(dir)) {
        Some("ProtectHome=read-only".to_owned())
    } else if settings.yes("ProtectControlGroups") && under("/sys/fs/cgroup") {
        return Attribution::new(
            Some("ProtectControlGroups=yes".into()),
            format!("{path} is in the cgroup tree it makes read-only"),
            Some("ProtectControlGroups=no".into()),
        );
    } else if settings.yes("ProtectKernelTunables") && (under("/proc/sys") || under("/sys")) {
        return Attribution::new(
            Some("ProtectKernelTunables=yes".into()),
            format!("{path} is a kernel tunable it makes read-only"),
            Some("ProtectKernelTunables=no".into()),
        );
    } else if system == "strict" && !["/dev", "/proc", "/sys"].iter().any(|dir| under(dir)) {
        Some("ProtectSystem=strict".to_owned())
    } else if matches!(system, "full" | "yes" | "true") && ["/usr", "/boot", "/efi"].iter().any(|dir| under(dir)) {
        Some(format!("ProtectSystem={system}"))
    } else if system == "full" && under("/etc") {
        Some("ProtectSystem=full".to_owned())
    } else {
        None
    };
    let Some(setting) = setting else {
        return Attribution::new(None, format!("a read-only mount none of the unit's settings explains ({path})"), None);
    };
    if !path.starts_with('/') {
        // No line can name the directory of a path relative to a working directory the service
        // may have changed (an empty `ReadWritePaths=` would even reset the list): strict is
        // loosened to full, which keeps /usr, /boot, /efi and /etc read-only and nothing else.
        let fix = (setting == "ProtectSystem=strict").then(|| "ProtectSystem=full".to_owned());
        return Attribution::new(
            Some(setting),
            format!("it makes {path} read-only (relative to a working directory: which directory to allow cannot be told)"),
            fix,
        );
    }
    let (fix, alternative) = writable(path);
    Attribution { setting: Some(setting), why: format!("it makes {path} read-only"), fix: Some(fix), alternative }
}

/// The narrowest line that makes `path` writable: its directory under `/var/lib`, `/var/log`,
/// `/var/cache` or `/run` (the service's own directory, which systemd can also make for it),
/// otherwise the directory the path is in.
fn writable(path: &str) -> (String, Option<String>) {
    for (top, directive) in
        [("/var/lib/", "StateDirectory"), ("/var/log/", "LogsDirectory"), ("/var/cache/", "CacheDirectory"), ("/run/", "RuntimeDirectory")]
    {
        if let Some(name) = path.strip_prefix(top).and_then(|rest| rest.split('/').next()).filter(|name| !name.is_empty()) {
            return (format!("ReadWritePaths={top}{name}"), Some(format!("{directive}={name}")));
        }
    }
    let dir = std::path::Path::new(path)
        .parent()
        .map(|dir| dir.display().to_string())
        .filter(|dir| dir != "/")
        .unwrap_or_else(|| path.to_owned());
    (format!("ReadWritePaths={dir}"), None)
}

/// A path refused with EACCES or EPERM: a setting that hides it, or None (its mode bits).
fn inaccessible(path: &str, settings: &Settings) -> Option<Attribution> {
    let under = |dir: &str| path == dir || path.starts_with(&format!("{}/", dir.trim_end_matches('/')));
    if let Some(dir) = settings.paths("InaccessiblePaths").into_iter().find(|dir| under(dir)) {
        return Some(Attribution::new(Some(format!("InaccessiblePaths={dir}")), format!("it makes {path} inaccessible"), None));
    }
    if settings.yes("ProtectHome") && ["/home", "/root", "/run/user"].iter().any(|dir| under(dir)) {
        return Some(Attribution::new(
            Some("ProtectHome=yes".into()),
            format!("it makes {path} inaccessible"),
            Some("ProtectHome=read-only".into()),
        ));
    }
    None
}

/// `AF_NETLINK` for 16 (include/linux/socket.h, the same on every architecture).
pub fn family_name(family: u32) -> String {
    FAMILIES
        .iter()
        .find(|(number, _)| *number == family)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("address family {family}"))
}

/// 16 for `AF_NETLINK`: the number of a family this table names.
pub fn family_number(name: &str) -> Option<u32> {
    FAMILIES.iter().find(|(_, known)| *known == name).map(|(number, _)| *number)
}

const FAMILIES: [(u32, &str); 22] = [
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (7, "AF_BRIDGE"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (36, "AF_IEEE802154"),
    (38, "AF_ALG"),
    (39, "AF_NFC"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(syscall: &str, at_entry: bool, returned: i64, args: [u64; 4], path: Option<&str>) -> Refused {
        let kind = if at_entry { RefusedBy::Seccomp } else { RefusedBy::FileSystem };
        Refused { syscall: syscall.into(), number: 0, kind, returned, args, path: path.map(str::to_owned), comm: "x".into(), count: 1 }
    }

    fn groups() -> SyscallGroups {
        SyscallGroups::parse(
            "@clock\n    adjtimex\n    clock_adjtime\n@privileged\n    @clock\n    acct\n@system-service\n    brk\n    read\n",
        )
    }

    #[test]
    fn names_the_filter_line_the_group_chain_and_the_group_to_add() {
        // As systemctl show gives it: the errno's number.
        let mut settings = Settings::from_lines("chrony.service", "SystemCallFilter=brk read\nSystemCallErrorNumber=1\n");
        settings.filter_lines = vec![("/etc/x.conf".into(), "@system-service".into()), ("/etc/x.conf".into(), "~@privileged".into())];
        let got = attribute(&refused("adjtimex", true, -1, [0x8001, 0, 0, 0], None), Some(&settings), &groups()).expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("SystemCallFilter=~@privileged"));
        assert_eq!(got.why, "adjtimex is in @clock, inside @privileged (SystemCallErrorNumber=EPERM)");
        assert_eq!(got.fix.as_deref(), Some("SystemCallFilter=@clock"));
        // A call the refusing group names itself: the fix allows that call, not the group.
        let got = attribute(&refused("acct", true, -1, [0; 4], None), Some(&settings), &groups()).expect("attributed");
        assert_eq!(
            (got.why.as_str(), got.fix.as_deref()),
            ("acct is named there (SystemCallErrorNumber=EPERM)", Some("SystemCallFilter=acct"))
        );
    }

    #[test]
    fn an_allow_list_without_the_call_is_named_as_such() {
        let mut settings = Settings::from_lines("x.service", "SystemCallFilter=brk read\n");
        settings.filter_lines = vec![("/etc/x.conf".into(), "@system-service".into())];
        let got = attribute(&refused("adjtimex", true, -1, [0; 4], None), Some(&settings), &groups()).expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("SystemCallFilter=@system-service"));
        assert_eq!(got.why, "the allow-list does not have adjtimex (it is in @clock)");
    }

    #[test]
    fn a_call_the_filter_allows_is_not_blamed_on_it() {
        let settings = Settings::from_lines("x.service", "SystemCallFilter=adjtimex brk\n");
        let got = attribute(&refused("adjtimex", true, -1, [0; 4], None), Some(&settings), &groups()).expect("attributed");
        assert_eq!(got.setting, None, "{got:?}");
    }

    #[test]
    fn a_socket_family_left_out_and_its_one_line_fix() {
        let settings = Settings::from_lines("x.service", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n");
        let got = attribute(&refused("socket", true, -97, [16, 3, 0, 0], None), Some(&settings), &groups()).expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"));
        assert_eq!(got.fix.as_deref(), Some("RestrictAddressFamilies=AF_NETLINK"));
    }

    #[test]
    fn a_read_only_state_directory_under_protect_system_strict() {
        let settings = Settings::from_lines("counter.service", "ProtectSystem=strict\nProtectHome=yes\n");
        let got = attribute(&refused("openat", false, -30, [0; 4], Some("/var/lib/counter/hits.tmp")), Some(&settings), &groups())
            .expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("ProtectSystem=strict"));
        assert_eq!(got.fix.as_deref(), Some("ReadWritePaths=/var/lib/counter"));
        assert_eq!(got.alternative.as_deref(), Some("StateDirectory=counter"));
        let covered = Settings::from_lines("counter.service", "ProtectSystem=strict\nReadWritePaths=-/var/lib/counter\n");
        let got = attribute(&refused("openat", false, -30, [0; 4], Some("/var/lib/counter/hits.tmp")), Some(&covered), &groups())
            .expect("attributed");
        assert_eq!(got.setting, None);
    }

    #[test]
    fn a_relative_path_refused_read_only_names_the_setting_and_loosens_it_never_an_empty_line() {
        let settings = Settings::from_lines("counter.service", "ProtectSystem=strict\n");
        let got = read_only(Some("state/count"), Some(&settings));
        assert_eq!(got.setting.as_deref(), Some("ProtectSystem=strict"));
        assert_eq!(got.fix.as_deref(), Some("ProtectSystem=full"), "{}", got.why);
        assert!(got.why.contains("relative"), "{}", got.why);
        let full = Settings::from_lines("counter.service", "ProtectSystem=full\n");
        assert_eq!(read_only(Some("state/count"), Some(&full)).fix, None);
        // As the trial's evidence reaches it: an openat of a relative path that failed EROFS.
        let evidence = refused("openat", false, -30, [0; 4], Some("count.tmp"));
        let got = attribute(&evidence, Some(&settings), &SyscallGroups::parse("")).expect("attributed");
        assert_eq!((got.setting.as_deref(), got.fix.as_deref()), (Some("ProtectSystem=strict"), Some("ProtectSystem=full")));
    }

    #[test]
    fn file_permissions_are_not_the_sandbox() {
        let settings = Settings::from_lines("x.service", "ProtectSystem=strict\n");
        assert_eq!(attribute(&refused("openat", false, -13, [0; 4], Some("/etc/shadow")), Some(&settings), &groups()), None);
        let home = Settings::from_lines("x.service", "ProtectHome=yes\n");
        let got = attribute(&refused("openat", false, -13, [0; 4], Some("/root/.config")), Some(&home), &groups()).expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("ProtectHome=yes"));
    }

    #[test]
    fn without_a_unit_the_evidence_speaks_alone() {
        let got = attribute(&refused("adjtimex", true, -1, [0; 4], None), None, &groups()).expect("attributed");
        assert_eq!(got.setting, None);
        assert_eq!(got.why, "not a unit's setting: the target's own filter, or its runtime's (adjtimex is in systemd's @clock)");
        let got = attribute(&refused("openat", false, -30, [0; 4], Some("/data/x")), None, &groups()).expect("attributed");
        assert_eq!(got.why, "a read-only mount");
    }

    #[test]
    fn a_setuid_exec_that_gained_nothing_names_no_new_privileges_or_what_implies_it() {
        let exec = |nnp: u64| Refused {
            syscall: "execve".into(),
            number: -1,
            kind: RefusedBy::Exec,
            returned: 0,
            args: [0o104755, 0, 65534 | 65534 << 32, nnp],
            path: Some("/usr/bin/passwd".into()),
            comm: "passwd".into(),
            count: 1,
        };
        let explicit = Settings::from_lines("x.service", "NoNewPrivileges=yes\n");
        let got = attribute(&exec(1), Some(&explicit), &groups()).expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("NoNewPrivileges=yes"));
        let implied = Settings::from_lines("x.service", "NoNewPrivileges=no\nSystemCallFilter=brk read\nLockPersonality=yes\n");
        let got = attribute(&exec(1), Some(&implied), &groups()).expect("attributed");
        assert_eq!(got.setting.as_deref(), Some("SystemCallFilter=, LockPersonality= (they imply NoNewPrivileges=yes)"));
        let got = attribute(&exec(0), Some(&explicit), &groups()).expect("attributed");
        assert_eq!((got.setting, got.why.as_str()), (None, "/usr/bin/passwd is on a nosuid mount (no_new_privs was not set)"));
        assert_eq!(exec(1).describe(), "execve(/usr/bin/passwd) gained nothing from the setuid bit (owner 0): euid 65534, egid 65534");
    }
}
