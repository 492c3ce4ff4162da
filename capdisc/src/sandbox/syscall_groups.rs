//! systemd's system-call groups (`@clock`, `@privileged`...) as this host's systemd defines them
//! (`systemd-analyze syscall-filter`: the groups differ between systemd versions), to say which
//! group a refused call is in, which line of a filter removed it, and the narrowest group to add.
use std::{collections::BTreeMap, process::Command};

/// Group name (with its `@`) -> its members as listed: system call names and nested `@groups`.
#[derive(Debug, Default, Clone)]
pub struct SyscallGroups {
    groups: BTreeMap<String, Vec<String>>,
}

/// Groups too wide to be a narrow fix: every call, or the base every filter allows.
const NOT_A_FIX: [&str; 3] = ["@known", "@default", "@system-service"];

impl SyscallGroups {
    /// This host's groups, from `systemd-analyze syscall-filter`; none when it cannot be run
    /// (refusals are then named by the call alone).
    pub fn of_this_host() -> Self {
        match Command::new("systemd-analyze").arg("syscall-filter").output() {
            Ok(output) if output.status.success() => Self::parse(&String::from_utf8_lossy(&output.stdout)),
            _ => Self::default(),
        }
    }

    /// `@group` header lines, each followed by its indented members (comments skipped).
    pub fn parse(text: &str) -> Self {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if line.starts_with('@') {
                let name = line.trim().to_owned();
                groups.entry(name.clone()).or_default();
                current = Some(name);
            } else if !line.starts_with(char::is_whitespace) {
                current = None;
            } else if let Some(group) = &current {
                let member = line.trim();
                if !member.is_empty() && !member.starts_with('#') {
                    groups.entry(group.clone()).or_default().push(member.to_owned());
                }
            }
        }
        Self { groups }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether `item` (a call name or an `@group`) covers `call`, following nested groups.
    pub fn covers(&self, item: &str, call: &str) -> bool {
        self.path_to(item, call, 0).is_some()
    }

    /// How `item` covers `call`: the groups from `item` down to the one that lists it
    /// (`["@privileged", "@clock"]` for adjtimex), or `[call]` when `item` is the call itself.
    pub fn path_to(&self, item: &str, call: &str, depth: usize) -> Option<Vec<String>> {
        if item == call {
            return Some(vec![call.to_owned()]);
        }
        let members = self.groups.get(item)?;
        if depth > 8 {
            return None;
        }
        if members.iter().any(|member| member == call) {
            return Some(vec![item.to_owned()]);
        }
        // The nested group that lists the call most directly.
        members
            .iter()
            .filter(|member| member.starts_with('@'))
            .filter_map(|member| self.path_to(member, call, depth + 1))
            .min_by_key(Vec::len)
            .map(|path| std::iter::once(item.to_owned()).chain(path).collect())
    }

    /// Every call `group` covers, nested groups expanded.
    pub fn expand(&self, group: &str) -> Vec<String> {
        let mut calls = Vec::new();
        self.expand_into(group, &mut calls, 0);
        calls.sort();
        calls.dedup();
        calls
    }

    fn expand_into(&self, item: &str, calls: &mut Vec<String>, depth: usize) {
        match self.groups.get(item) {
            Some(members) if depth <= 8 => {
                for member in members {
                    self.expand_into(member, calls, depth + 1);
                }
            }
            Some(_) => {}
            None => calls.push(item.to_owned()),
        }
    }

    /// The smallest group that lists `call` (never `@known`, `@default` or `@system-service`):
    /// the narrowest line that allows it back along with the calls that go with it.
    pub fn narrowest_group(&self, call: &str) -> Option<String> {
        self.groups
            .keys()
            .filter(|group| !NOT_A_FIX.contains(&group.as_str()) && self.covers(group, call))
            .min_by_key(|group| (self.expand(group).len(), (*group).clone()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cut of systemd 252's output, its layout kept (headers, comments, nested groups).
    const SAMPLE: &str = "@default\n    # System calls that are always permitted\n    brk\n    exit\n\n@clock\n    # Change the system time\n    adjtimex\n    clock_adjtime\n    clock_settime\n    settimeofday\n\n@module\n    # Loading and unloading of kernel modules\n    init_module\n\n@privileged\n    # All system calls which need super-user capabilities\n    @chown\n    @clock\n    @module\n    acct\n\n@chown\n    chown\n\n@system-service\n    @default\n    @chown\n    brk\n\n# Ungrouped System Calls (known but not included in any of the groups except @known):\n#   arc_gettls\n";

    #[test]
    fn finds_the_group_chain_and_the_narrowest_fix() {
        let groups = SyscallGroups::parse(SAMPLE);
        assert_eq!(groups.path_to("@privileged", "adjtimex", 0), Some(vec!["@privileged".to_owned(), "@clock".to_owned()]));
        assert!(groups.covers("@clock", "settimeofday"));
        assert!(!groups.covers("@system-service", "adjtimex"));
        assert_eq!(groups.narrowest_group("adjtimex").as_deref(), Some("@clock"));
        assert_eq!(groups.narrowest_group("chown").as_deref(), Some("@chown"));
        assert_eq!(groups.narrowest_group("arc_gettls"), None);
        assert_eq!(
            groups.expand("@privileged"),
            ["acct", "adjtimex", "chown", "clock_adjtime", "clock_settime", "init_module", "settimeofday"]
        );
    }

    #[test]
    fn reads_this_hosts_systemd_when_there_is_one() {
        if !std::path::Path::new("/usr/bin/systemd-analyze").exists() {
            eprintln!("no systemd-analyze here: skipped");
            return;
        }
        let groups = SyscallGroups::of_this_host();
        // True of every systemd since 245: adjtimex is in @clock, and @clock in @privileged.
        assert!(groups.covers("@clock", "adjtimex"));
        assert_eq!(groups.path_to("@privileged", "adjtimex", 0), Some(vec!["@privileged".to_owned(), "@clock".to_owned()]));
        assert_eq!(groups.narrowest_group("adjtimex").as_deref(), Some("@clock"));
    }
}
