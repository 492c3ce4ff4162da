//! `capdisc generate`: from a profile to configuration people deploy. `Recommendation` is the
//! one decision (which capabilities to grant, root or not); each output format is a file here
//! that only renders it.
use crate::support::console;
mod container;
mod privileges;
mod seccomp;
mod setcap;
mod systemd;
mod withhold;

use std::{collections::BTreeSet, str::FromStr};

use serde::Serialize;

use crate::{
    classify::Class,
    error::Error,
    profile::{CapabilityUse, Profile},
    systemd::is_root_user,
};

pub use seccomp::profile_text as seccomp_profile;
pub use systemd::render_dropin;
pub use withhold::Withheld;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Systemd,
    Docker,
    Podman,
    K8s,
    Compose,
    Quadlet,
    Setcap,
    Seccomp,
    Json,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "systemd" => OutputFormat::Systemd,
            "docker" => OutputFormat::Docker,
            "podman" => OutputFormat::Podman,
            "k8s" | "kubernetes" => OutputFormat::K8s,
            "compose" => OutputFormat::Compose,
            "quadlet" => OutputFormat::Quadlet,
            "setcap" => OutputFormat::Setcap,
            "seccomp" => OutputFormat::Seccomp,
            "json" => OutputFormat::Json,
            other => {
                return Err(format!(
                    "unknown format `{other}`; use systemd, docker, podman, compose, quadlet, k8s, setcap, seccomp or json"
                ))
            }
        })
    }
}

/// Who the service runs as, which decides whether ambient capabilities are needed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsAs {
    Root,
    NonRoot { user: String },
}

/// What to grant, with the evidence for and against each capability.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub required: Vec<String>,
    pub runs_as: RunsAs,
    /// Where `runs_as` came from (the profile's uids, or --user).
    pub runs_as_source: String,
    /// Granted capabilities whose checks were all file-permission fallbacks, not yet proven
    /// needed (`capdisc minimize` proves or drops them).
    pub unproven: Vec<String>,
    /// The set was proven by trials (`capdisc minimize`).
    pub proven: bool,
    /// Whether to forbid privilege gains on exec (NoNewPrivileges=yes, no-new-privileges,
    /// allowPrivilegeEscalation: false), and why (or why not).
    pub no_new_privileges: bool,
    pub no_new_privileges_reason: String,
    pub not_granted: Vec<NotGranted>,
    /// Granted by the recording but left out: root-equivalent for a non-root service and not
    /// proven needed (`--allow-dangerous CAP` grants one anyway).
    pub withheld: Vec<Withheld>,
    /// Root-equivalent capabilities granted to a root service without a proof (said, not left out).
    pub unproven_dangerous: Vec<String>,
    #[serde(skip)]
    pub evidence: Vec<CapabilityUse>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NotGranted {
    pub name: String,
    pub class: Class,
    pub reason: String,
}

impl Recommendation {
    /// `user`: who the service runs as (`root` or `0` for root) and where that came from (`--user`,
    /// the unit's `User=`); without it, the profile's uids decide.
    /// `allow_dangerous`: root-equivalent capabilities to grant a non-root service even unproven.
    pub fn from_profile(profile: &Profile, user: Option<(&str, &str)>, allow_dangerous: &[String]) -> Self {
        let mut names = profile.granted_names();
        let (runs_as, runs_as_source) = match user {
            Some((user, source)) if is_root_user(user) => (RunsAs::Root, source.to_owned()),
            Some((user, source)) => (RunsAs::NonRoot { user: user.to_owned() }, source.to_owned()),
            None => {
                // A service that ever checked as uid 0 started as root (it may drop privileges
                // itself); one that never did runs as its non-root user from the start.
                let uids: BTreeSet<u32> = profile.capabilities.iter().flat_map(|cap| cap.uids.iter().copied()).collect();
                match (uids.contains(&0), uids.iter().find(|uid| **uid != 0)) {
                    (false, Some(uid)) => (
                        RunsAs::NonRoot { user: format!("uid {uid}") },
                        format!("every check was made by non-root uid(s) {}", join_uids(&uids)),
                    ),
                    (true, _) => (RunsAs::Root, "checks were made as uid 0".to_owned()),
                    (false, None) => {
                        (RunsAs::Root, "no check of the service's own says who it runs as (only set-up was recorded)".to_owned())
                    }
                }
            }
        };
        let withheld = withhold::withheld(profile, &names, &runs_as, allow_dangerous);
        names.retain(|name| !withheld.iter().any(|left_out| left_out.name == *name));
        let unproven_dangerous = withhold::unproven_dangerous(profile, &names, &runs_as);
        let required: Vec<&CapabilityUse> = profile.grants().into_iter().filter(|cap| names.contains(&cap.name)).collect();
        let granted: BTreeSet<&str> =
            names.iter().map(String::as_str).chain(withheld.iter().map(|left_out| left_out.name.as_str())).collect();
        let no_new_privileges = privileges::no_new_privileges(profile);
        let verdict = |name: &str| {
            profile.verification.as_ref().and_then(|proof| proof.capabilities.iter().find(|verdict| verdict.name == name)).cloned()
        };
        Self {
            required: names.clone(),
            unproven: if profile.proven() {
                Vec::new()
            } else {
                required.iter().filter(|cap| cap.class == Class::Conditional).map(|cap| cap.name.clone()).collect()
            },
            proven: profile.proven(),
            no_new_privileges: no_new_privileges.is_ok(),
            no_new_privileges_reason: match &no_new_privileges {
                Ok(count) => format!("no executable the service ran ({count}) gains privileges on exec (checked on this host)"),
                Err(why) => why.clone(),
            },
            runs_as,
            runs_as_source,
            not_granted: profile
                .capabilities
                .iter()
                .filter(|cap| !granted.contains(cap.name.as_str()))
                .map(|cap| NotGranted {
                    name: cap.name.clone(),
                    class: cap.class,
                    reason: verdict(&cap.name).map(|verdict| verdict.evidence).unwrap_or_else(|| cap.reason.clone()),
                })
                .collect(),
            withheld,
            unproven_dangerous,
            evidence: required.into_iter().cloned().collect(),
        }
    }

    /// What the output grants, as a mask.
    pub fn mask(&self) -> u64 {
        crate::caps::mask_of(self.required.iter().map(String::as_str))
    }

    /// Says on stderr what was left out or granted unproven (`generate`, `apply`).
    pub fn warn(&self) {
        for left_out in &self.withheld {
            console::warning!("{}", left_out.describe());
        }
        if !self.unproven_dangerous.is_empty() {
            console::note!(
                "granted to a root service without a proof: {} (root-equivalent; `capdisc minimize` proves which it needs)",
                self.unproven_dangerous.join(" ")
            );
        }
    }

    pub fn needs_ambient(&self) -> bool {
        matches!(self.runs_as, RunsAs::NonRoot { .. })
    }
}

fn join_uids(uids: &BTreeSet<u32>) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// Renders a profile in one format; `user` is `--user`, `allow_dangerous` `--allow-dangerous`.
pub fn render(
    profile: &Profile,
    source: &str,
    format: OutputFormat,
    user: Option<&str>,
    allow_dangerous: &[String],
) -> Result<String, Error> {
    if format == OutputFormat::Seccomp {
        return seccomp::render(profile, source);
    }
    let recommendation = Recommendation::from_profile(profile, user.map(|user| (user, "--user")), allow_dangerous);
    recommendation.warn();
    let confinement = container::Confinement::of(profile, source);
    Ok(match format {
        OutputFormat::Systemd => systemd::render_dropin(profile, source, &recommendation),
        OutputFormat::Docker => container::docker("docker", &recommendation, &confinement),
        OutputFormat::Podman => container::docker("podman", &recommendation, &confinement),
        OutputFormat::K8s => container::kubernetes(&recommendation, &confinement),
        OutputFormat::Compose => container::compose(&recommendation, &confinement),
        OutputFormat::Quadlet => container::quadlet(&recommendation, &confinement),
        OutputFormat::Seccomp => unreachable!("rendered above"),
        OutputFormat::Setcap => setcap::render(profile, &recommendation),
        OutputFormat::Json => {
            serde_json::to_string_pretty(&recommendation).map(|text| text + "\n").map_err(|err| Error::io("cannot render JSON", err))?
        }
    })
}

/// `CAP_NET_BIND_SERVICE` -> `NET_BIND_SERVICE` (the container runtimes' spelling).
pub(crate) fn short_name(name: &str) -> &str {
    name.strip_prefix("CAP_").unwrap_or(name)
}
