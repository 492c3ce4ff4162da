//! One judgment for writing and for checking: what `lint` calls root-equivalent for a non-root
//! service (`danger::ROOT_EQUIVALENT` as an ambient capability) is never written unproven. Such
//! a capability is left out of the grant unless a proof kept it (`capdisc minimize`) or the
//! user grants it anyway (`--allow-dangerous CAP`); for a root service it is granted and said.
use serde::Serialize;

use super::RunsAs;
use crate::{caps::danger::why_root_equivalent, classify::Class, profile::Profile};

/// A capability the recording granted but the output leaves out.
#[derive(Clone, Debug, Serialize)]
pub struct Withheld {
    pub name: String,
    pub class: Class,
    /// Why it amounts to root.
    pub danger: String,
}

impl Withheld {
    /// One line: what was left out, why, and what to do.
    pub fn describe(&self) -> String {
        let class = if self.class == Class::Conditional { "only conditional (file-permission fallbacks)" } else { "required but unproven" };
        format!(
            "{} left out: it amounts to root for a non-root service (it {}), and it is {class}; `capdisc minimize` proves whether it is needed, `--allow-dangerous {}` grants it anyway",
            self.name, self.danger, self.name
        )
    }
}

/// The granted names a non-root service does not get: root-equivalent ones no proof kept and
/// the user did not allow. Nothing for a root service, for a proven set, or for a rootless
/// container: its capabilities are its user namespace's, over what that namespace owns, and none
/// of them amounts to root on the host.
pub fn withheld(profile: &Profile, names: &[String], runs_as: &RunsAs, allowed: &[String]) -> Vec<Withheld> {
    if *runs_as == RunsAs::Root || profile.proven() || profile.rootless() {
        return Vec::new();
    }
    names
        .iter()
        .filter(|name| !allowed.contains(name))
        .filter_map(|name| {
            let danger = why_root_equivalent(name)?;
            let class = profile.capability(name).map(|cap| cap.class).unwrap_or(Class::Required);
            Some(Withheld { name: name.clone(), class, danger: danger.to_owned() })
        })
        .collect()
}

/// Root-equivalent names granted to a root service without a proof: said in the output.
pub fn unproven_dangerous(profile: &Profile, names: &[String], runs_as: &RunsAs) -> Vec<String> {
    if *runs_as != RunsAs::Root || profile.proven() || profile.rootless() {
        return Vec::new();
    }
    names.iter().filter(|name| why_root_equivalent(name).is_some()).cloned().collect()
}
