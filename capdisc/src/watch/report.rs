//! `capdisc report --state-dir DIR`: the host's table from what `watch` kept. Per target: the
//! bounding set systemd declares for it (when it is a unit on this host), what it used, what it
//! holds but never used (the candidates for hardening), and creep since its baseline.
use crate::support::console;
use std::{collections::BTreeSet, path::PathBuf};

use serde::Serialize;

use super::{creep::outside, state::StateDir};
use crate::{
    error::Error,
    systemd::{all_caps, live_view, mask_names, systemd_running},
};

pub struct ReportOptions {
    pub state_dir: PathBuf,
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub target: String,
    /// systemd's `CapabilityBoundingSet` for the unit (None: not a unit here, or systemd not running).
    pub declared: Option<Vec<String>>,
    /// What the recordings would grant: granted, audited use.
    pub used: Vec<String>,
    /// Declared but never used.
    pub unused: Option<Vec<String>>,
    /// Used outside its baseline (None: no baseline).
    pub creep: Option<Vec<String>>,
    /// Denied attempts outside its baseline.
    pub denied_creep: Option<Vec<String>>,
    pub checks: u64,
    pub since: String,
    pub until: String,
    /// Checks the kernel could not keep while it was watched.
    pub lost_checks: u64,
}

pub fn report(options: &ReportOptions) -> Result<i32, Error> {
    let state = StateDir::existing(&options.state_dir)?;
    let targets = state.targets()?;
    let baselines = state.baselines()?;
    let systemd = systemd_running();
    let mut rows = Vec::new();
    for (name, profile) in &targets {
        // Only units that run programs have a bounding set (not slices or scopes).
        let runs_programs = [".service", ".socket", ".mount", ".swap"].iter().any(|suffix| name.ends_with(suffix));
        let declared = (systemd && runs_programs && profile.target.unit.is_some())
            .then(|| live_view(name).ok().filter(|view| view.load_state == "loaded"))
            .flatten()
            .map(|view| view.bounding);
        let used = profile.granted_names();
        let used_set: BTreeSet<&String> = used.iter().collect();
        let (creep, denied_creep) = match baselines.get(name) {
            Some(baseline) => {
                let found = outside(name, profile, baseline);
                let of =
                    |verdict: &str| found.iter().filter(|creep| creep.verdict == verdict).map(|creep| creep.capability.clone()).collect();
                (Some(of("granted")), Some(of("denied")))
            }
            None => (None, None),
        };
        rows.push(Row {
            target: name.clone(),
            declared: declared.map(mask_names),
            unused: declared.map(|mask| mask_names(mask).into_iter().filter(|cap| !used_set.contains(cap)).collect()),
            used,
            creep,
            denied_creep,
            checks: profile.totals.checks,
            since: profile.started_at.clone(),
            until: profile.ended_at.clone(),
            lost_checks: profile.losses.lost_checks(),
        });
    }
    if options.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|err| Error::Runtime(format!("cannot render the report: {err}")))?;
        console::outln!("{text}");
    } else {
        console::out!("{}", render(&rows));
    }
    Ok(0)
}

/// The text table: one line per target; long sets shortened (`all 41`, `all 41 but X`).
pub fn render(rows: &[Row]) -> String {
    let all = mask_names(all_caps());
    let short = |names: &[String]| -> String {
        if names.is_empty() {
            return "-".into();
        }
        if names.len() == all.len() {
            return format!("all {}", all.len());
        }
        if names.len() + 4 >= all.len() {
            let missing: Vec<String> = all.iter().filter(|cap| !names.contains(cap)).map(|cap| lower(cap)).collect();
            return format!("all {} but {}", all.len(), missing.join(","));
        }
        names.iter().map(|name| lower(name)).collect::<Vec<_>>().join(",")
    };
    let unknown = |value: &Option<Vec<String>>| value.as_ref().map_or_else(|| "?".to_owned(), |names| short(names));
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            let mut creep = unknown(&row.creep);
            if let Some(denied) = row.denied_creep.as_ref().filter(|denied| !denied.is_empty()) {
                creep.push_str(&format!(" (denied: {})", short(denied)));
            }
            if row.lost_checks > 0 {
                creep.push_str(&format!(" [{} lost]", row.lost_checks));
            }
            [row.target.clone(), unknown(&row.declared), short(&row.used), unknown(&row.unused), creep, row.checks.to_string()]
        })
        .collect();
    let header = ["TARGET", "DECLARED", "USED", "HELD, NEVER USED", "CREEP", "CHECKS"].map(str::to_owned);
    let mut widths = header.clone().map(|column| column.len());
    for line in &table {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&table) {
        let cells: Vec<String> = line.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no targets recorded yet)\n");
    }
    out.push_str("DECLARED: systemd's CapabilityBoundingSet (? when not a unit on this host); USED: granted, audited use; CREEP: used outside the baseline (? when it has none)\n");
    out
}

fn lower(name: &str) -> String {
    name.trim_start_matches("CAP_").to_lowercase()
}
