//! A unit's sandboxing settings as systemd loaded them (`systemctl show`: what it really parsed),
//! and its `SystemCallFilter=` lines as written (their order decides what a filter removes).
use std::{collections::HashMap, path::PathBuf};

use crate::{
    error::Error,
    systemd::{self, UnitFiles},
};

/// The properties a refusal can be traced back to.
const PROPERTIES: [&str; 30] = [
    "SystemCallFilter",
    "SystemCallErrorNumber",
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
];

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
        let values = systemd::show(unit, &PROPERTIES)?;
        let filter_lines = UnitFiles::find(unit, std::path::Path::new("/"))
            .map(|files| systemd::assignments(&files, "SystemCallFilter"))
            .unwrap_or_default();
        Ok(Self { unit: unit.to_owned(), values, filter_lines })
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
