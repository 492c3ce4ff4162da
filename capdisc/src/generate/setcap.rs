//! File capabilities: one `setcap` command per recorded executable, with the required
//! capabilities that executable itself used.
use std::collections::BTreeMap;

use super::Recommendation;
use crate::profile::Profile;

pub fn render(profile: &Profile, recommendation: &Recommendation) -> String {
    let mut per_exe: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cap in &recommendation.evidence {
        for command in &cap.commands {
            let exe = command.exe.clone().unwrap_or_else(|| format!("$(command -v {})", command.comm));
            per_exe.entry(exe).or_default().push(cap.name.to_ascii_lowercase());
        }
    }
    let mut out = format!("# file capabilities for the executables recorded in {}\n", profile.target.description);
    if per_exe.is_empty() {
        out.push_str("# no capability was required: nothing to set\n");
    }
    for (exe, caps) in per_exe {
        out.push_str(&format!("setcap {}=ep {exe}\n", caps.join(",")));
    }
    out
}
