//! The profile schema (documented in docs/profile-schema.md). Bump `SCHEMA_VERSION` on
//! any change that an older reader would misread.
use serde::{Deserialize, Serialize};

pub use super::{
    losses::Losses,
    target::{ContainerInfo, TargetInfo, TargetKind},
};
use crate::{classify::Class, probe::Backend};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub schema_version: u32,
    pub capdisc_version: String,
    pub host: String,
    pub kernel: String,
    pub backend: Backend,
    /// Which backend was chosen and why earlier ones were skipped.
    pub backend_selection: String,
    pub target: TargetInfo,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub ended_at: String,
    pub duration_secs: f64,
    /// Exit status of a spawned command (128 + signal when it was killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    pub losses: Losses,
    pub totals: Totals,
    /// Every capability the target checked, required first.
    pub capabilities: Vec<CapabilityUse>,
    /// Per-cgroup breakdown (`record --all`), labelled with the systemd unit where known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cgroups: Vec<CgroupUse>,
    /// The recordings a merged profile (`capdisc merge`) was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<Recording>,
    /// Executables the target exec'd (from the kernel's exec tracepoint), for NoNewPrivileges=.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executables: Vec<String>,
    /// What the recording did not cover: capabilities the executables' imports may check that
    /// no check showed (`coverage`). Hints only, never added to a set.
    #[serde(default, skip_serializing_if = "Coverage::is_empty")]
    pub coverage: Coverage,
    /// The proof of the set (`capdisc minimize`): which capabilities the service was shown to
    /// need, which it works without, and the trials that showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// System calls the target's sandbox refused (`record --sandbox`, and every trial), each
    /// with the unit setting that refused it and the narrowest fix; most frequent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<SandboxRefusal>,
    /// Kinds of refusal the kernel could not keep (its map was full): the list may miss some.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refusals_lost: u64,
    /// What the target did that the sandboxing settings depend on (`record --sandbox`, and
    /// `minimize`'s recording): the calls it made, the paths it wrote...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<super::Activity>,
}

/// One kind of system call the target's sandbox refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxRefusal {
    pub syscall: String,
    /// `seccomp`: refused at entry by a filter; `file system`: failed by a read-only or hidden
    /// path; `exec`: a setuid or setgid file exec'd without gaining (`NoNewPrivileges=`).
    pub by: RefusedBy,
    /// What the call returned (EPERM...); absent when a filter trapped or killed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    /// The path the call named (the first one seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The socket family asked for (`socket`, `socketpair`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `exec`: the task had `no_new_privs` set (otherwise a nosuid mount refused the gain).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_privs: bool,
    pub comm: String,
    pub count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// The unit setting that refused it (`SystemCallFilter=~@privileged`); absent when none of
    /// the unit's settings explains it, or the target is not a unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    pub why: String,
    /// The narrowest line that allows it (not proven by this recording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_alternative: Option<String>,
}

impl std::fmt::Display for SandboxRefusal {
    /// `adjtimex refused by a seccomp filter (EPERM; 3 time(s), by chronyd): by
    /// SystemCallFilter=~@privileged: adjtimex is in @clock...; fix: SystemCallFilter=@clock`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match (&self.path, &self.family) {
            (Some(path), _) => format!(" {path}"),
            (None, Some(family)) => format!(" {family}"),
            (None, None) => String::new(),
        };
        let result = self.errno.clone().unwrap_or_else(|| "trapped or killed".into());
        let how = match self.by {
            RefusedBy::Seccomp => "refused by a seccomp filter",
            RefusedBy::FileSystem => "failed",
            RefusedBy::Exec => "gained nothing from its set-id bit",
        };
        write!(f, "{}{target} {how} ({result}; {} time(s), by {})", self.syscall, self.count, self.comm)?;
        if let Some(setting) = &self.setting {
            write!(f, ": by {setting}")?;
        }
        write!(f, ": {}", self.why)?;
        match crate::sandbox::fix_text(self.fix.as_deref(), self.fix_alternative.as_deref()) {
            Some(fix) => write!(f, "; fix: {fix}"),
            None => Ok(()),
        }
    }
}

pub use crate::sandbox::RefusedBy;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Per executable and capability its functions may check, never seen in the recording.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexercised: Vec<Hint>,
    /// Executables whose functions could not be read, each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl Coverage {
    pub fn is_empty(&self) -> bool {
        self.unexercised.is_empty() && self.unreadable.is_empty()
    }

    /// One line per capability the hints name, in capability order:
    /// `CAP_KILL (kill, killpg in /usr/sbin/nginx)`.
    pub fn describe(&self) -> Vec<String> {
        let mut names: Vec<&str> = self.unexercised.iter().map(|hint| hint.capability.as_str()).collect();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let from: Vec<String> = self
                    .unexercised
                    .iter()
                    .filter(|hint| hint.capability == name)
                    .map(|hint| format!("{} in {}", hint.symbols.join(", "), hint.executable))
                    .collect();
                format!("{name} ({})", from.join("; "))
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    pub capability: String,
    /// The functions it imports or links that may check it (`kill`, `killpg`).
    pub symbols: Vec<String>,
    pub executable: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// `minimize` (shrink from a recording) or `minimize --grow` (grow from the current set).
    pub method: Method,
    /// What was run: the command, or the unit.
    pub target: String,
    /// The check that decided each trial (besides the command's exit or the unit staying active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The phases of the service's life each trial ran (`start`, `reload`, `stop`, `start again`
    /// for a unit; `start` for a command's run): what the proof covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// The `--exercise` commands each trial ran after its check, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exercise: Vec<String>,
    /// RFC 3339, UTC: when the proof ended.
    pub date: String,
    /// The final set passed its trial.
    pub passed: bool,
    /// Per capability tried: kept (a trial without it failed) or dropped (one passed).
    pub capabilities: Vec<Verdict>,
    /// Every trial in order.
    pub trials: Vec<Trial>,
    /// `minimize --sandbox`: the sandboxing settings tried with the proven set, each kept (the
    /// last trial passed with it) or dropped (a trial's evidence showed it breaks the service),
    /// with why; lines the evidence added to let the service work are kept settings too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandbox: Vec<SandboxSetting>,
    /// `minimize --sandbox`: the sandboxing stage's trials, in order, after the capability trials
    /// (each ran the proven set; they do not decide the set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandbox_trials: Vec<Trial>,
    /// `minimize --container NAME --sandbox`: the runtime's confinement tried with the proven set,
    /// each kept or dropped with why: `seccomp` (its values the system calls the profile's
    /// allow-list admits), `no-new-privileges`, `read-only` (the root file system read-only), `tmpfs` (the directories
    /// a read-only container wrote in that podman mounts itself and docker must be told).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_sandbox: Vec<SandboxSetting>,
    /// `minimize --sandbox`: the unit's own sandboxing lines when it was proven (`KEY=VALUE`, as
    /// its files merge them), which every trial ran with: with the kept settings, what the proof
    /// covers (`lint --profile` flags a line beyond it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandbox_unit: Vec<String>,
    /// `minimize --sandbox`: systemd's exposure score of the unit before, with the proven
    /// capabilities alone and with the sandboxing too (`systemd-analyze security --offline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Exposures>,
    /// `sha256:` of the recorded capabilities and of this section without this field: binds the
    /// proof to the recording it proves, so an edited verdict or recording is refused on reading
    /// (`proof does not match this recording`).
    #[serde(default)]
    pub digest: String,
}

/// One sandboxing setting of a proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SandboxSetting {
    /// The setting (`ProtectSystem`).
    pub setting: String,
    /// Its values, one line each (`strict`; `SystemCallFilter=` takes several).
    pub values: Vec<String>,
    /// `kept` (in the drop-in) or `dropped` (left out).
    pub verdict: Decision,
    /// Why: what the recording showed, or the failing trial's evidence.
    pub why: String,
}

impl SandboxSetting {
    /// Its lines, `KEY=VALUE`.
    pub fn lines(&self) -> Vec<String> {
        self.values.iter().map(|value| format!("{}={value}", self.setting)).collect()
    }
}

/// The settings of a container's confinement (`Verification::container_sandbox`), as the
/// proof names them.
pub mod confinement {
    /// The allow-list's setting.
    pub const SECCOMP: &str = "seccomp";
    /// The read-only root file system's.
    pub const READ_ONLY: &str = "read-only";
    /// `--security-opt no-new-privileges`: no exec gains privileges, and the runtime loads the seccomp
    /// filter last, just before its exec, instead of before it changes the container's credentials
    /// (runc and crun do so when they may not load it unprivileged later), so the allow-list need
    /// not admit the runtime's `setuid`, `setgroups`, `capset`, `chdir`...
    pub const NO_NEW_PRIVILEGES: &str = "no-new-privileges";
    /// The directories a read-only container wrote in that podman mounts as tmpfs itself
    /// (`--read-only-tmpfs`, its default) and docker must be told (`--tmpfs`).
    pub const TMPFS: &str = "tmpfs";
}

/// Exposure scores of a unit (`systemd-analyze security`: 0 safe to 10 exposed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposures {
    pub before: f64,
    pub capabilities: f64,
    pub sandboxing: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub name: String,
    /// `kept` or `dropped`.
    pub verdict: Decision,
    /// Why, e.g. "the check failed without it: bind EACCES" or "not needed: the check passed
    /// while it was denied 3 time(s) in newfstatat /home/app".
    pub evidence: String,
}

/// What a proof decided for one capability (`kept`, `dropped`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Kept,
    Dropped,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Kept => "kept",
            Decision::Dropped => "dropped",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How `minimize` reached its set (`minimize`: shrink from a recording; `minimize --grow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "minimize")]
    Shrink,
    #[serde(rename = "minimize --grow")]
    Grow,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Shrink => "minimize",
            Method::Grow => "minimize --grow",
        })
    }
}

impl Verification {
    /// The capabilities the proof keeps, by name.
    pub fn kept(&self) -> impl Iterator<Item = &str> {
        self.capabilities.iter().filter(|verdict| verdict.verdict == Decision::Kept).map(|verdict| verdict.name.as_str())
    }

    /// Whether `name` is kept because a trial that ran without it failed: the typed fact (the
    /// trials' sets and results, never a verdict's wording) that makes a capability proven
    /// necessary. A capability kept untried (`--max-trials`) or from where growing started was
    /// never run without, so it is not.
    pub fn proven_necessary(&self, name: &str) -> bool {
        self.kept().any(|kept| kept == name) && self.trials.iter().any(|trial| !trial.passed && !trial.set.iter().any(|cap| cap == name))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The set the target ran under.
    pub set: Vec<String>,
    /// What this trial tested, e.g. "without CAP_DAC_READ_SEARCH".
    pub testing: String,
    pub passed: bool,
    /// Why it failed, or "passed".
    pub outcome: String,
    /// Denials seen during the trial: `CAP_X in syscall (path) by comm`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<String>,
    /// What the sandbox refused during the trial, with the setting behind each (see
    /// [`SandboxRefusal`]'s one-line form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub backend: Backend,
    pub host: String,
    pub kernel: String,
    pub target: String,
    pub started_at: String,
    pub ended_at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub checks: u64,
    pub granted: u64,
    pub denied: u64,
    pub noaudit: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapabilityUse {
    /// `CAP_NET_BIND_SERVICE`, or `cap_N` for numbers capdisc does not know.
    pub name: String,
    pub number: u32,
    pub class: Class,
    /// Why this class (e.g. the no-audit call site).
    pub reason: String,
    pub granted: u64,
    pub denied: u64,
    /// Checks (granted or denied) that were advisory no-audit probes.
    pub noaudit: u64,
    /// Granted and denied checks that were audited: what the class is decided from (0 in
    /// profiles from capdisc before they were kept; see `audited`).
    #[serde(default)]
    pub granted_audited: u64,
    #[serde(default)]
    pub denied_audited: u64,
    /// Granted audited checks that were file-permission fallbacks (class `conditional` when all
    /// of them were).
    #[serde(default)]
    pub granted_fallback: u64,
    /// Paths the system calls named at the sampled call sites (at most 8): for a `conditional`
    /// capability, the files whose mode bits it overrode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Checks made against a user namespace other than the initial one (scoped differently).
    #[serde(default)]
    pub foreign_userns: u64,
    /// Of those, checks against a user namespace the service made itself (it started in the
    /// host's): it holds every capability there whatever the unit's bounding set, so they are
    /// kept and shown but never make a capability needed (class `userns` when they are all).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub own_userns: u64,
    /// Checks made while computing set-id credentials (fexit and kprobe only).
    #[serde(default)]
    pub insetid: u64,
    /// The phases of the service's life it was checked in (`start`, `exercise`, `reload`,
    /// `stop`), for recordings that ran them (`minimize`'s recording and trials); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    pub syscalls: Vec<SyscallUse>,
    pub call_sites: Vec<CallSite>,
    pub commands: Vec<CommandInfo>,
    pub uids: Vec<u32>,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallUse {
    /// `bind`, or `none` for checks outside a system call.
    pub name: String,
    pub number: i32,
    pub granted: u64,
    pub denied: u64,
    pub noaudit: u64,
    /// What `cap_capable` returned for the denied checks (EPERM); the system call itself may
    /// report another errno (bind() below 1024 returns EACCES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_errno: Option<String>,
    /// The phases it was made in (see [`CapabilityUse::phases`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// Of the denied checks, how many times the system call then succeeded (the refusal failed
    /// nothing) and failed, and the errno it last returned: seen by trials (`verify`,
    /// `minimize`), which watch system call exits; absent from a plain `record`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub returned_ok: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub returned_failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned_errno: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSite {
    /// Innermost first: `cap_capable`, `security_capable`, `ns_capable`, `__inet_bind`, ...
    pub frames: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noaudit: Option<String>,
    /// What had refused before this check, when the site is a file-permission fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The path the system call named (sampled with the call site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The phases it was sampled in (see [`CapabilityUse::phases`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
}

/// A phase of a service's life, as trials run them and profiles name them (in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    #[serde(rename = "start")]
    Start,
    #[serde(rename = "exercise")]
    Exercise,
    #[serde(rename = "reload")]
    Reload,
    #[serde(rename = "stop")]
    Stop,
    /// A unit's start after its stop phase (judged, not recorded: a proof's `phases` only).
    #[serde(rename = "start again")]
    StartAgain,
}

impl Phase {
    /// The phase the kernel marked a check with (`capdisc_common::phase`).
    pub fn of_marker(marker: u32) -> Option<Self> {
        match marker {
            capdisc_common::phase::START => Some(Phase::Start),
            capdisc_common::phase::EXERCISE => Some(Phase::Exercise),
            capdisc_common::phase::RELOAD => Some(Phase::Reload),
            capdisc_common::phase::STOP => Some(Phase::Stop),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Exercise => "exercise",
            Phase::Reload => "reload",
            Phase::Stop => "stop",
            Phase::StartAgain => "start again",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Phases by name, joined (`start, reload`).
pub fn phase_names(phases: &[Phase]) -> String {
    phases.iter().map(|phase| phase.name()).collect::<Vec<_>>().join(", ")
}

/// Adds `more` phases to `phases`, kept in the order of a service's life.
pub fn union_phases(phases: &mut Vec<Phase>, more: &[Phase]) {
    for phase in more {
        if !phases.contains(phase) {
            phases.push(*phase);
        }
    }
    phases.sort();
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommandInfo {
    pub comm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CgroupUse {
    pub cgroup: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub capabilities: Vec<CapabilityUse>,
}

impl CapabilityUse {
    /// Audited (granted, denied) counts, estimated from the totals for profiles that predate
    /// the two fields (no-audit checks are counted as granted there).
    pub fn audited(&self) -> (u64, u64) {
        if self.granted_audited + self.denied_audited > 0 {
            return (self.granted_audited, self.denied_audited);
        }
        (self.granted.saturating_sub(self.noaudit), self.denied.saturating_sub(self.noaudit.saturating_sub(self.granted)))
    }
}

impl Profile {
    /// What to grant, by name, the one decision every output follows: a proven set when
    /// `minimize` proved one (its kept capabilities); otherwise every granted, audited capability,
    /// `conditional` ones included (a working service first; they are marked unproven).
    pub fn granted_names(&self) -> Vec<String> {
        match self.verification.as_ref().filter(|verification| verification.passed) {
            Some(verification) => {
                let mut names: Vec<String> = verification.kept().map(str::to_owned).collect();
                names.sort_by_key(|name| crate::caps::number(name).unwrap_or(u32::MAX));
                names
            }
            None => self.capabilities.iter().filter(|cap| cap.class.granted()).map(|cap| cap.name.clone()).collect(),
        }
    }

    /// The recorded uses of what [`Profile::granted_names`] grants (the evidence; a proven set
    /// may hold a capability the last recording never checked, from the unit's own set).
    pub fn grants(&self) -> Vec<&CapabilityUse> {
        let names = self.granted_names();
        self.capabilities.iter().filter(|cap| names.contains(&cap.name)).collect()
    }

    /// [`Profile::granted_names`] as a mask.
    pub fn grant_mask(&self) -> u64 {
        crate::caps::mask_of(self.granted_names().iter().map(String::as_str))
    }

    /// Whether it records a rootless container (its capabilities are its user namespace's).
    pub fn rootless(&self) -> bool {
        self.target.rootless()
    }

    /// What of a unit's life the recording covered, when that is less than every phase: a unit
    /// recorded (from its start, or attached) without a proof ran no reload and no stop under
    /// capdisc, so what `ExecReload=` or `ExecStop=` need is not in it. `None` for other targets,
    /// and for a proof or a phased recording (`minimize`'s), which name their phases.
    pub fn unit_phases_not_covered(&self) -> Option<String> {
        let unit = self.target.unit.as_deref().filter(|_| self.target.kind == TargetKind::Unit)?;
        let phased = self.verification.is_some() || self.capabilities.iter().any(|cap| !cap.phases.is_empty());
        if phased {
            return None;
        }
        Some(format!(
            "recorded the unit's {} only: no reload and no stop ran under capdisc, so what ExecReload= or ExecStop= need is not in it (`capdisc minimize --unit {unit}` runs and records every phase)",
            if self.target.description.ends_with("from its restart") { "start and what ran while it was recorded" } else { "run while it was recorded" }
        ))
    }

    /// Whether a proven set is present.
    pub fn proven(&self) -> bool {
        self.verification.as_ref().is_some_and(|verification| verification.passed)
    }

    /// The profile to harden one service from: a single-target profile as it is; for an `--all`
    /// profile, the part of one unit or cgroup (`--target NAME`), which must then be named: a
    /// union over the whole host fits no service.
    pub fn for_target(&self, target: Option<&str>) -> Result<Profile, crate::error::Error> {
        use crate::error::Error;
        let Some(name) = target else {
            if self.cgroups.is_empty() {
                return Ok(self.clone());
            }
            return Err(Error::Usage(format!(
                "this profile covers the whole host ({} cgroups); name one with --target (for example {})",
                self.cgroups.len(),
                self.target_names().into_iter().take(3).collect::<Vec<_>>().join(", ")
            )));
        };
        if self.cgroups.is_empty() {
            return Err(Error::Usage(format!(
                "--target {name} needs a profile recorded with --all; this one records {}",
                self.target.description
            )));
        }
        let unit = crate::systemd::unit_name(name);
        let group =
            self.cgroups.iter().find(|group| group.cgroup == name || group.unit.as_deref() == Some(unit.as_str())).ok_or_else(|| {
                Error::Usage(format!("no unit or cgroup `{name}` in this profile; it has: {}", self.target_names().join(", ")))
            })?;
        let mut part = self.clone();
        part.capabilities = group.capabilities.clone();
        part.cgroups = Vec::new();
        part.target.description = format!("{} (from {})", group.unit.as_deref().unwrap_or(&group.cgroup), self.target.description);
        part.target.unit = group.unit.clone();
        part.target.cgroup = Some(group.cgroup.clone());
        Ok(part)
    }

    /// The units (or cgroups) of an `--all` profile, as `--target` accepts them.
    pub fn target_names(&self) -> Vec<String> {
        self.cgroups.iter().map(|group| group.unit.clone().unwrap_or_else(|| group.cgroup.clone())).collect()
    }

    /// Refuses a profile that lost checks, unless the user accepts it (`--allow-lossy`): a set
    /// built from it may lack a capability the service needs (the story's outage).
    pub fn require_complete(&self, source: &str, allow_lossy: bool) -> Result<(), crate::error::Error> {
        if !self.losses.incomplete() || allow_lossy {
            return Ok(());
        }
        Err(crate::error::Error::Untrusted(format!(
            "{source} is incomplete: {}, so a set built from it may lack capabilities the service needs; record again with a larger --max-keys, or pass --allow-lossy to use it anyway",
            self.losses.describe()
        )))
    }

    /// Capabilities of one class, by name.
    pub fn names_of(&self, class: Class) -> Vec<&str> {
        self.capabilities.iter().filter(|cap| cap.class == class).map(|cap| cap.name.as_str()).collect()
    }

    pub fn capability(&self, name: &str) -> Option<&CapabilityUse> {
        self.capabilities.iter().find(|cap| cap.name == name)
    }
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(set: &[&str], passed: bool) -> Trial {
        Trial {
            set: set.iter().map(|name| (*name).to_owned()).collect(),
            testing: String::new(),
            passed,
            outcome: String::new(),
            denials: Vec::new(),
            refusals: Vec::new(),
        }
    }

    fn verdict(name: &str, verdict: Decision, evidence: &str) -> Verdict {
        Verdict { name: name.into(), verdict, evidence: evidence.into() }
    }

    /// `apply` may widen a unit only by what a failed trial proved necessary: read from the
    /// trials (a trial without it failed), whatever a verdict's evidence says (it read
    /// `evidence.starts_with("the check failed")`: rewording a message changed what apply allows).
    #[test]
    fn proven_necessary_reads_the_trials_never_the_wording() {
        let proof = Verification {
            method: Method::Shrink,
            target: "unit app.service".into(),
            check: None,
            phases: Vec::new(),
            exercise: Vec::new(),
            date: String::new(),
            passed: true,
            capabilities: vec![
                verdict("CAP_NET_BIND_SERVICE", Decision::Kept, "reworded: the service needed it"),
                verdict("CAP_CHOWN", Decision::Kept, "the check failed without it (says the text, untried)"),
                verdict("CAP_DAC_READ_SEARCH", Decision::Dropped, "not needed"),
            ],
            trials: vec![
                trial(&["CAP_CHOWN", "CAP_DAC_READ_SEARCH", "CAP_NET_BIND_SERVICE"], true),
                trial(&["CAP_CHOWN", "CAP_NET_BIND_SERVICE"], true),
                trial(&["CAP_CHOWN"], false),
            ],
            sandbox: Vec::new(),
            sandbox_trials: Vec::new(),
            container_sandbox: Vec::new(),
            sandbox_unit: Vec::new(),
            exposure: None,
            digest: String::new(),
        };
        assert!(proof.proven_necessary("CAP_NET_BIND_SERVICE"), "a trial without it failed");
        assert!(!proof.proven_necessary("CAP_CHOWN"), "kept, never run without: not proven necessary");
        assert!(!proof.proven_necessary("CAP_DAC_READ_SEARCH"), "dropped");
        assert_eq!(proof.kept().collect::<Vec<_>>(), ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]);
        let text = serde_yaml::to_string(&proof).expect("yaml");
        assert!(text.contains("method: minimize\n") && text.contains("verdict: kept\n") && text.contains("verdict: dropped\n"), "{text}");
        let grow: Verification = serde_yaml::from_str(&text.replace("method: minimize\n", "method: minimize --grow\n")).expect("reads");
        assert_eq!(grow.method, Method::Grow);
    }

    #[test]
    fn phases_are_united_once_each_in_the_order_of_a_service_s_life() {
        let mut phases = vec![Phase::Stop];
        union_phases(&mut phases, &[Phase::Reload, Phase::Start, Phase::Stop]);
        assert_eq!(phases, [Phase::Start, Phase::Reload, Phase::Stop]);
        union_phases(&mut phases, &[Phase::Exercise]);
        assert_eq!(phase_names(&phases), "start, exercise, reload, stop");
        assert_eq!(Phase::of_marker(capdisc_common::phase::RELOAD), Some(Phase::Reload));
        assert_eq!(Phase::of_marker(capdisc_common::phase::COUNT), None);
        assert_eq!(serde_yaml::to_string(&[Phase::StartAgain, Phase::Exercise]).expect("yaml"), "- start again\n- exercise\n");
    }
}
