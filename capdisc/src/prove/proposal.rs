//! A proposed drop-in as `capdisc try` reads it: its assignments in order, grouped by setting
//! (every line of one key together: systemd merges them), so that trials can run it whole, with
//! fixes appended, or with some settings only (a bisection); and which of its settings a failed
//! trial's evidence points at, with the line that would fix it.
use std::path::Path;

use super::trial::TrialResult;
use crate::error::Error;

/// One `KEY=VALUE` line of the drop-in, with its section.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    section: String,
    key: String,
    value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    lines: Vec<Line>,
}

/// A setting of the proposal that a failed trial's evidence points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The setting (`CapabilityBoundingSet`, `SystemCallFilter`...).
    pub key: String,
    /// What the kernel saw, and why this setting caused it.
    pub evidence: String,
    /// The line that allows it (`SystemCallFilter=@clock`), when there is one.
    pub fix: Option<String>,
}

impl Proposal {
    /// Reads a drop-in file; Err naming the line it cannot take.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|err| Error::input(format!("cannot read the drop-in {}", path.display()), err, ""))?;
        Self::parse(&text).map_err(|why| Error::Usage(format!("{}: {why}", path.display())))
    }

    /// Parses drop-in text: sections, `KEY=VALUE` lines, comments and blank lines.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = Vec::new();
        let mut section: Option<String> = None;
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.ends_with('\\') {
                return Err(format!("line {}: a continued line; join it into one line", number + 1));
            }
            if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
                section = Some(name.to_owned());
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {}: `{line}` is neither a [Section] nor a KEY=VALUE setting", number + 1));
            };
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("line {}: `{key}` is not a setting's name", number + 1));
            }
            let Some(section) = section.clone() else {
                return Err(format!("line {}: `{line}` comes before any [Section]; a drop-in starts with [Service]", number + 1));
            };
            lines.push(Line { section, key: key.to_owned(), value: value.trim().to_owned() });
        }
        if lines.is_empty() {
            return Err("it sets nothing; give a drop-in with a [Service] section and its settings".into());
        }
        Ok(Self { lines })
    }

    /// Its settings (keys), in the order first written.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for line in &self.lines {
            if !keys.contains(&line.key) {
                keys.push(line.key.clone());
            }
        }
        keys
    }

    pub fn has(&self, key: &str) -> bool {
        self.lines.iter().any(|line| line.key == key)
    }

    /// The lines of `key`, as written (`CapabilityBoundingSet=` and the rest).
    pub fn lines_of(&self, key: &str) -> Vec<String> {
        self.lines.iter().filter(|line| line.key == key).map(|line| format!("{}={}", line.key, line.value)).collect()
    }

    /// The drop-in with only the settings in `keys` (all of them: `None`), then `fixes` (lines
    /// of `[Service]`) after its own.
    pub fn render(&self, keys: Option<&[String]>, fixes: &[String]) -> String {
        let mut text = String::new();
        let mut section: Option<&str> = None;
        for line in self.lines.iter().filter(|line| keys.is_none_or(|keys| keys.contains(&line.key))) {
            if section != Some(line.section.as_str()) {
                text.push_str(&format!("[{}]\n", line.section));
                section = Some(&line.section);
            }
            text.push_str(&format!("{}={}\n", line.key, line.value));
        }
        if !fixes.is_empty() {
            if section != Some("Service") {
                text.push_str("[Service]\n");
            }
            text.push_str("# Fixes capdisc try found from the kernel's evidence:\n");
            for fix in fixes {
                text.push_str(fix);
                text.push('\n');
            }
        }
        text
    }

    /// The settings of this proposal a failed trial's evidence points at: a sandbox refusal
    /// attributed to one of them, or a capability denied while it sets the bounding (or
    /// ambient) set. `ambient`: the unit's own ambient capabilities.
    pub fn findings(&self, result: &TrialResult, ambient: &[String]) -> Vec<Finding> {
        let mut found: Vec<Finding> = Vec::new();
        for refusal in &result.refusals {
            let Some(setting) = &refusal.setting else { continue };
            let key = setting.split('=').next().unwrap_or_default().trim();
            if !self.has(key) {
                continue;
            }
            let fix = refusal.fix.clone().filter(|fix| is_setting_line(fix));
            push(&mut found, Finding { key: key.to_owned(), evidence: refusal.to_string(), fix });
        }
        for denial in result.denials.iter().filter(|denial| !denial.failed_nothing && !denial.fallback) {
            let key = ["CapabilityBoundingSet", "AmbientCapabilities"].into_iter().find(|key| self.has(key));
            let Some(key) = key else { continue };
            let also = if key == "CapabilityBoundingSet" && ambient.contains(&denial.cap) {
                format!(", and with it the unit's ambient {}", denial.cap)
            } else {
                String::new()
            };
            let evidence = format!(
                "{} leaves {} out{also}, which {} needs: denied {denial}",
                self.lines_of(key).join(" "),
                denial.cap,
                denial.syscall
            );
            push(&mut found, Finding { key: key.to_owned(), evidence, fix: Some(format!("{key}={}", denial.cap)) });
        }
        found
    }
}

fn push(found: &mut Vec<Finding>, finding: Finding) {
    if !found.iter().any(|seen| seen.key == finding.key && seen.fix == finding.fix) {
        found.push(finding);
    }
}

/// `KEY=VALUE` with a setting's name: a fix a trial can try (not advice in words).
fn is_setting_line(text: &str) -> bool {
    text.split_once('=').is_some_and(|(key, _)| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric())) && !text.contains(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        profile::{RefusedBy, SandboxRefusal},
        prove::trial::Denial,
    };

    const STORY: &str = "# the colleague's change\n[Service]\nCapabilityBoundingSet=\nProtectSystem=strict\nProtectHome=true\n";

    #[test]
    fn reads_renders_and_subsets_a_dropin() {
        let proposal = Proposal::parse(STORY).expect("a drop-in");
        assert_eq!(proposal.keys(), ["CapabilityBoundingSet", "ProtectSystem", "ProtectHome"]);
        assert_eq!(proposal.render(None, &[]), "[Service]\nCapabilityBoundingSet=\nProtectSystem=strict\nProtectHome=true\n");
        let some = ["ProtectHome".to_owned()];
        assert_eq!(
            proposal.render(Some(&some), &["ReadWritePaths=/var/lib/x".into()]),
            "[Service]\nProtectHome=true\n# Fixes capdisc try found from the kernel's evidence:\nReadWritePaths=/var/lib/x\n"
        );
        assert!(Proposal::parse("CapabilityBoundingSet=\n").expect_err("refused").contains("before any [Section]"));
        assert!(Proposal::parse("[Service]\nnot a line\n").expect_err("refused").contains("line 2"));
        assert!(Proposal::parse("# nothing\n[Service]\n").expect_err("refused").contains("sets nothing"));
    }

    fn result(denials: Vec<Denial>, refusals: Vec<SandboxRefusal>) -> TrialResult {
        TrialResult { passed: false, outcome: "the check failed".into(), denials, refusals }
    }

    #[test]
    fn the_empty_bounding_set_is_named_for_the_ambient_capability_bind_needs() {
        let proposal = Proposal::parse(STORY).expect("a drop-in");
        let denial = Denial {
            cap: "CAP_NET_BIND_SERVICE".into(),
            syscall: "bind".into(),
            path: None,
            comm: "capdisc-demo".into(),
            count: 1,
            errno: "EACCES".into(),
            fallback: false,
            first_seen: String::new(),
            failed_nothing: false,
        };
        let found = proposal.findings(&result(vec![denial], Vec::new()), &["CAP_NET_BIND_SERVICE".into()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "CapabilityBoundingSet");
        assert_eq!(found[0].fix.as_deref(), Some("CapabilityBoundingSet=CAP_NET_BIND_SERVICE"));
        assert!(found[0].evidence.starts_with("CapabilityBoundingSet= leaves CAP_NET_BIND_SERVICE out, and with it the unit's ambient CAP_NET_BIND_SERVICE, which bind needs"), "{}", found[0].evidence);
    }

    #[test]
    fn a_refusal_points_at_the_setting_of_the_dropin_that_made_it() {
        let proposal =
            Proposal::parse("[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\nSystemCallErrorNumber=EPERM\n")
                .expect("a drop-in");
        let refusal = |setting: &str, fix: &str| SandboxRefusal {
            syscall: "adjtimex".into(),
            by: RefusedBy::Seccomp,
            errno: Some("EPERM".into()),
            path: None,
            family: None,
            no_new_privs: false,
            comm: "chronyd".into(),
            count: 1,
            phases: Vec::new(),
            setting: Some(setting.into()),
            why: "adjtimex is in @clock, inside @privileged".into(),
            fix: Some(fix.into()),
            fix_alternative: None,
        };
        let refusals = vec![
            refusal("SystemCallFilter=~@privileged", "SystemCallFilter=@clock"),
            refusal("ProtectClock=yes", "ProtectClock=no"),
            refusal("NoNewPrivileges=yes", "grant what the helper needs to the service itself, or NoNewPrivileges=no"),
        ];
        let found = proposal.findings(&result(Vec::new(), refusals), &[]);
        assert_eq!(
            found.iter().map(|f| (f.key.as_str(), f.fix.as_deref())).collect::<Vec<_>>(),
            [("SystemCallFilter", Some("SystemCallFilter=@clock"))]
        );
    }
}
