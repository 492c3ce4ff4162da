//! A unit's sandboxing settings as systemd loaded them (`systemctl show`: what it really parsed),
//! and its `SystemCallFilter=` lines as written (their order decides what a filter removes).
use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
};

use super::SyscallGroups;
use crate::{
    error::Error,
    systemd::{self, UnitFiles},
};

/// Settings whose assignments add up instead of replacing each other.
const LISTS: [&str; 5] = ["ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths", "RestrictAddressFamilies", "RestrictNamespaces"];

/// `SystemCallFilter=` lines resolved as systemd resolves them, in the form `systemctl show`
/// prints: the first line decides an allow-list (which always has `@default`) or a deny-list
/// (`~`); later lines of the same kind add to it, lines of the other kind take away; an empty
/// assignment starts over. None when nothing is left assigned.
pub fn resolve_filter(lines: &[&str], groups: &SyscallGroups) -> Option<String> {
    let mut allow: Option<bool> = None;
    let mut names: BTreeSet<String> = BTreeSet::new();
    for line in lines {
        if line.trim().is_empty() {
            allow = None;
            names.clear();
            continue;
        }
        let (deny, items) = match line.trim().strip_prefix('~') {
            Some(items) => (true, items),
            None => (false, line.trim()),
        };
        let allowing = *allow.get_or_insert_with(|| {
            if !deny {
                names.extend(groups.expand("@default"));
            }
            !deny
        });
        let calls: Vec<String> = items.split_whitespace().flat_map(|item| groups.expand(item)).collect();
        if allowing != deny {
            names.extend(calls);
        } else {
            for call in calls {
                names.remove(&call);
            }
        }
    }
    let list = names.into_iter().collect::<Vec<_>>().join(" ");
    allow.map(|allowing| if allowing { list } else { format!("~{list}") })
}

/// Settings systemd implements with seccomp filters. They also imply `NoNewPrivileges=yes` for a
/// service without CAP_SYS_ADMIN (systemd.exec(5)).
pub const SECCOMP_SETTINGS: [&str; 12] = [
    "SystemCallFilter",
    "SystemCallArchitectures",
    "RestrictAddressFamilies",
    "RestrictNamespaces",
    "MemoryDenyWriteExecute",
    "LockPersonality",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "ProtectClock",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectHostname",
];

/// The other properties a refusal can be traced back to, or the sandboxing a recording allows
/// depends on (`harden::sandboxing`).
const OTHER_PROPERTIES: [&str; 23] = [
    "SystemCallErrorNumber",
    "ProtectKernelTunables",
    "ProtectControlGroups",
    "ProtectSystem",
    "ProtectHome",
    "ProtectProc",
    "PrivateDevices",
    "PrivateTmp",
    "ReadOnlyPaths",
    "ReadWritePaths",
    "InaccessiblePaths",
    "NoNewPrivileges",
    "StateDirectory",
    "LogsDirectory",
    "CacheDirectory",
    "RuntimeDirectory",
    "ConfigurationDirectory",
    "User",
    "ProcSubset",
    "PrivateNetwork",
    "PrivateMounts",
    "PrivateIPC",
    "WorkingDirectory",
];

/// Every property a refusal can be traced back to.
fn properties() -> Vec<&'static str> {
    SECCOMP_SETTINGS.iter().chain(OTHER_PROPERTIES.iter()).copied().collect()
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub unit: String,
    /// Property -> value, as `systemctl show` prints it.
    values: HashMap<String, String>,
    /// `SystemCallFilter=` lines as written, in the order systemd reads them, with their file.
    pub filter_lines: Vec<(PathBuf, String)>,
}

impl Settings {
    /// What the running systemd loaded for `unit`.
    pub fn of_unit(unit: &str) -> Result<Self, Error> {
        let values = systemd::show(unit, &properties())?;
        let filter_lines = UnitFiles::find(unit, std::path::Path::new("/"))
            .map(|files| systemd::assignments(&files, "SystemCallFilter"))
            .unwrap_or_default();
        Ok(Self { unit: unit.to_owned(), values, filter_lines })
    }

    /// The settings the unit's files say, merged as systemd merges them (lists add up, an empty
    /// assignment resets, other settings: the last one wins), for a unit read offline (`lint
    /// --root`) or without a running systemd. `SystemCallFilter=` is resolved with this host's
    /// groups, as systemd resolves it.
    pub fn from_files(unit: &str, files: &[PathBuf], groups: &SyscallGroups) -> Self {
        let texts: Vec<(PathBuf, String)> =
            files.iter().filter_map(|path| std::fs::read_to_string(path).ok().map(|text| (path.clone(), text))).collect();
        Self::from_texts(unit, &texts, groups)
    }

    /// [`Settings::from_files`] over unit texts (each with the file it stands for), in order.
    pub fn from_texts(unit: &str, texts: &[(PathBuf, String)], groups: &SyscallGroups) -> Self {
        let mut values: HashMap<String, String> = HashMap::new();
        let mut filter_lines = Vec::new();
        let known = properties();
        for (path, text) in texts {
            for (key, value) in systemd::service_assignments(text) {
                if !known.contains(&key.as_str()) {
                    continue;
                }
                if key == "SystemCallFilter" {
                    filter_lines.push((path.clone(), value));
                } else if LISTS.contains(&key.as_str()) && !value.is_empty() {
                    let merged = values.entry(key).or_default();
                    if !merged.is_empty() {
                        merged.push(' ');
                    }
                    merged.push_str(&value);
                } else {
                    values.insert(key, value);
                }
            }
        }
        let lines: Vec<&str> = filter_lines.iter().map(|(_, line)| line.as_str()).collect();
        if let Some(filter) = resolve_filter(&lines, groups) {
            values.insert("SystemCallFilter".into(), filter);
        }
        Self { unit: unit.to_owned(), values, filter_lines }
    }

    /// Settings given as `KEY=VALUE` lines (tests, and units read offline).
    pub fn from_lines(unit: &str, lines: &str) -> Self {
        let values =
            lines.lines().filter_map(|line| line.split_once('=')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        Self { unit: unit.to_owned(), values, filter_lines: Vec::new() }
    }

    /// A property's value; empty when unset.
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }

    /// A boolean property set to yes.
    pub fn yes(&self, key: &str) -> bool {
        matches!(self.get(key), "yes" | "true" | "1" | "on")
    }

    /// A list of paths (`ReadOnlyPaths=`...), their `-` and `+` prefixes removed.
    pub fn paths(&self, key: &str) -> Vec<String> {
        self.get(key)
            .split_whitespace()
            .map(|path| path.trim_start_matches(['-', '+']).to_owned())
            .filter(|path| path.starts_with('/'))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> SyscallGroups {
        SyscallGroups::parse("@default\n    brk\n@clock\n    adjtimex\n    settimeofday\n@privileged\n    @clock\n    acct\n@system-service\n    read\n    @clock\n")
    }

    #[test]
    fn filter_lines_resolve_as_systemd_resolves_them() {
        let groups = groups();
        assert_eq!(resolve_filter(&["@system-service", "~@privileged"], &groups).as_deref(), Some("brk read"));
        assert_eq!(
            resolve_filter(&["@system-service", "~@privileged", "@clock"], &groups).as_deref(),
            Some("adjtimex brk read settimeofday")
        );
        assert_eq!(resolve_filter(&["~@clock", "acct"], &groups).as_deref(), Some("~adjtimex settimeofday"));
        assert_eq!(resolve_filter(&["~@clock", ""], &groups), None, "an empty assignment starts over");
    }

    #[test]
    fn unit_files_merge_lists_and_keep_the_last_plain_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (main, dropin) = (dir.path().join("x.service"), dir.path().join("10-hardening.conf"));
        std::fs::write(&main, "[Service]\nProtectSystem=full\nReadWritePaths=/var/lib/x\nRestrictAddressFamilies=AF_UNIX\n")
            .expect("write");
        std::fs::write(&dropin, "[Service]\nProtectSystem=strict\nReadWritePaths=-/var/log/x\nRestrictAddressFamilies=AF_INET\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n").expect("write");
        let settings = Settings::from_files("x.service", &[main, dropin], &groups());
        assert_eq!(settings.get("ProtectSystem"), "strict");
        assert_eq!(settings.paths("ReadWritePaths"), ["/var/lib/x", "/var/log/x"]);
        assert_eq!(settings.get("RestrictAddressFamilies"), "AF_UNIX AF_INET");
        assert_eq!(settings.get("SystemCallFilter"), "brk read");
        assert_eq!(settings.filter_lines.len(), 2);
    }
}
