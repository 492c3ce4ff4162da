//! `capdisc lint`: findings about a unit's effective capability configuration, each with a
//! severity, a cause and a fix. The story's trap (ambient outside an empty bounding set) first.
use std::fmt;

use serde::Serialize;

use crate::{
    caps,
    classify::Class,
    generate::Recommendation,
    kernel::errno,
    profile::{Profile, RefusedBy, SandboxRefusal},
    sandbox::{self, Refused, Settings, SyscallGroups},
    systemd::{mask_names, mask_text, Effective},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub cause: String,
    pub fix: String,
}

fn finding(severity: Severity, cause: String, fix: String) -> Finding {
    Finding { severity, cause, fix }
}

pub fn lint(unit: &Effective, profile: Option<&Profile>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (setting, word) in &unit.ignored_names {
        let fix = match caps::number(word) {
            Some(number) => format!("write {}={}", setting, caps::name(number)),
            None => format!("no such capability; did you mean {}?", caps::nearest(word)),
        };
        let why = if word.to_ascii_lowercase().starts_with("cap_") {
            "no capability has that name"
        } else {
            "capability names need the CAP_ prefix"
        };
        findings.push(finding(Severity::Error, format!("{setting}= contains `{word}`, which systemd silently ignores ({why})"), fix));
    }
    for path in &unit.leftovers {
        let fix = if unit.live {
            format!("capdisc restore --unit {}", unit.unit)
        } else {
            format!("delete {} (offline: no systemd runs this unit here for `capdisc restore` to put back)", path.display())
        };
        findings.push(finding(
            Severity::Error,
            format!(
                "{} is a capdisc drop-in that no running capdisc owns: the unit may run with its capability restrictions lifted",
                path.display()
            ),
            fix,
        ));
    }
    for anomaly in &unit.anomalies {
        findings.push(finding(
            Severity::Warning,
            format!("{anomaly} (systemd reads this unit differently from how it looks)"),
            "fix the line".into(),
        ));
    }
    root_equivalent(unit, &mut findings);
    ambient_outside_bounding(unit, &mut findings);
    if unit.non_root() && unit.bounding_assigned && unit.bounding != 0 && unit.ambient & unit.bounding == 0 {
        let names = mask_names(unit.bounding).join(" ");
        findings.push(finding(
            Severity::Warning,
            format!("{} is not root and AmbientCapabilities= is empty: CapabilityBoundingSet={names} only limits, it grants nothing, so the service runs with no capabilities", user_label(unit)),
            format!("add AmbientCapabilities= with the capabilities it needs (of {names})"),
        ));
    }
    if !unit.non_root() && unit.secure_bits.as_deref().is_some_and(|bits| bits.split_whitespace().any(|bit| bit == "noroot")) {
        findings.push(finding(
            Severity::Warning,
            "SecureBits=noroot: the service runs as root but gets no capabilities from being root; only AmbientCapabilities= (or file capabilities) grant any".into(),
            "add the capabilities it needs to AmbientCapabilities=, or drop noroot".into(),
        ));
    }
    for command in &unit.privileged_commands {
        findings.push(finding(
            Severity::Info,
            format!("{command} runs with full privileges: the capability settings do not apply to it"),
            "drop the `+` prefix unless that command really needs root".into(),
        ));
    }
    if let Some(profile) = profile {
        if profile.losses.incomplete() {
            findings.push(finding(
                Severity::Warning,
                format!("the profile is incomplete: {}; capabilities it lacks may still be needed", profile.losses.describe()),
                "record again with a larger --max-keys before trusting the comparison".into(),
            ));
        }
        against_profile(unit, profile, &mut findings);
        against_refusals(unit, profile, &mut findings);
        against_sandbox_proof(unit, profile, &mut findings);
    } else if !unit.bounding_assigned {
        findings.push(finding(
            Severity::Info,
            "CapabilityBoundingSet= is not set: the service may use every capability".into(),
            "record it (`capdisc record`) and restrict it (`capdisc generate`)".into(),
        ));
    }
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    findings
}

/// A non-root service whose ambient set (what reaches its effective set) holds capabilities
/// that amount to root.
fn root_equivalent(unit: &Effective, findings: &mut Vec<Finding>) {
    if !unit.non_root() {
        return;
    }
    for cap in caps::decode_mask(unit.usable()) {
        let name = caps::name(cap);
        if let Some(why) = crate::caps::danger::why_root_equivalent(&name) {
            findings.push(finding(
                Severity::Warning,
                format!("{} holds {name} as an ambient capability, which amounts to root: it {why}", user_label(unit)),
                format!("remove {name} from AmbientCapabilities= unless the service truly needs it (capdisc record shows whether it does)"),
            ));
        }
    }
}

fn ambient_outside_bounding(unit: &Effective, findings: &mut Vec<Finding>) {
    let dropped = unit.ambient & !unit.bounding;
    for cap in caps::decode_mask(dropped) {
        let name = caps::name(cap);
        let because = if let Some((option, _)) = unit.implicit.iter().find(|(_, mask)| mask & (1 << cap) != 0) {
            format!("{option} removes it from the bounding set")
        } else if unit.bounding_assigned && unit.bounding == 0 {
            "CapabilityBoundingSet= is empty".to_owned()
        } else {
            "CapabilityBoundingSet= does not include it".to_owned()
        };
        let mut cause = format!("AmbientCapabilities={name} is dropped because {because}");
        if unit.non_root() {
            cause.push_str(&format!("; {} gets no {name} at all", user_label(unit)));
        }
        if cap == caps::CAP_NET_BIND_SERVICE {
            cause.push_str("; bind() to ports below 1024 will fail with EACCES (bind: permission denied)");
        }
        findings.push(finding(Severity::Error, cause, format!("add {name} to the bounding set: CapabilityBoundingSet={name}")));
    }
}

/// What the recording saw the sandbox refuse, judged against this unit's settings: each refusal
/// one of its settings explains is an error (the service met it), with the setting, why and the
/// narrowest fix; one none explains is said as information.
fn against_refusals(unit: &Effective, profile: &Profile, findings: &mut Vec<Finding>) {
    if profile.refusals.is_empty() {
        return;
    }
    let groups = SyscallGroups::of_this_host();
    let live = if unit.live { Settings::of_unit(&unit.unit).ok() } else { None };
    let settings = live.unwrap_or_else(|| Settings::from_files(&unit.unit, &unit.files, &groups));
    for seen in &profile.refusals {
        let refused = refused_of(seen);
        let Some(attribution) = sandbox::attribute(&refused, Some(&settings), &groups) else { continue };
        // The profile keeps no file mode or credentials of an exec: its own words for it.
        let what = match seen.by {
            RefusedBy::Exec => format!("execve({}) gained nothing from its set-id bit", seen.path.as_deref().unwrap_or("?")),
            _ => refused.describe(),
        };
        let times = format!("{} time(s) in the recording, by {}", seen.count, seen.comm);
        match &attribution.setting {
            Some(setting) => {
                let fix = match attribution.fix_text() {
                    Some(fix) => format!("add {fix}, then prove it with a trial (capdisc verify)"),
                    None => format!("loosen {setting} for this path, or change where the service writes"),
                };
                findings.push(finding(
                    Severity::Error,
                    format!("{setting} refuses what the service did: {what} ({times}): {}", attribution.why),
                    fix,
                ));
            }
            None => findings.push(finding(
                Severity::Info,
                format!("the recording saw {what} ({times}): {}", attribution.why),
                "no setting of this unit explains it; see the service's own configuration".into(),
            )),
        }
    }
}

/// With a proof of the sandboxing (`minimize --sandbox`): each sandboxing setting whose value in
/// the unit's files is not what the proof covered (the unit's own lines when proven, then the
/// lines it kept): a line added or changed since, which no trial ran.
fn against_sandbox_proof(unit: &Effective, profile: &Profile, findings: &mut Vec<Finding>) {
    let Some(proof) = profile.verification.as_ref().filter(|proof| !proof.sandbox.is_empty()) else { return };
    let groups = SyscallGroups::of_this_host();
    let now = Settings::from_files(&unit.unit, &unit.files, &groups);
    let kept = proof.sandbox.iter().filter(|setting| setting.verdict == crate::profile::Decision::Kept).flat_map(|setting| setting.lines());
    let mut text = String::from("[Service]\n");
    for line in proof.sandbox_unit.iter().cloned().chain(kept) {
        text.push_str(&line);
        text.push('\n');
    }
    let covered = Settings::from_texts(&unit.unit, &[("the proof".into(), text)], &groups);
    for (setting, value, proven) in crate::harden::sandboxing::uncovered(&now, &covered) {
        let was = if proven.is_empty() { "without it".to_owned() } else { format!("with {setting}={proven}") };
        let is = if value.is_empty() { "unset".to_owned() } else { format!("{setting}={value}") };
        findings.push(finding(
            Severity::Warning,
            format!("{is} is not what the profile's proof covered: its trials ran the unit {was}"),
            "try the change through the unit's life first (capdisc try), or prove the whole hardening again (capdisc minimize --sandbox)"
                .into(),
        ));
    }
}

/// A profile's refusal as the kernel reported it, for judging again against other settings.
fn refused_of(seen: &SandboxRefusal) -> Refused {
    let returned = seen.errno.as_deref().and_then(errno::number).map(|number| -(number as i64)).unwrap_or(0);
    let family = seen.family.as_deref().and_then(sandbox::family_number).unwrap_or(0);
    Refused {
        syscall: seen.syscall.clone(),
        number: -1,
        kind: seen.by,
        returned,
        args: [u64::from(family), 0, 0, u64::from(seen.no_new_privs)],
        path: seen.path.clone(),
        comm: seen.comm.clone(),
        count: seen.count,
    }
}

fn against_profile(unit: &Effective, profile: &Profile, findings: &mut Vec<Finding>) {
    // The same judgment as `generate`/`apply`: what they would leave out is not a need here.
    let user = if unit.non_root() { unit.user.clone().unwrap_or_else(|| "dynamic".into()) } else { "root".into() };
    let recommendation = Recommendation::from_profile(profile, Some((&user, "the unit")), &[]);
    let usable = unit.usable();
    // What `generate` withholds as root-equivalent is still what the service used: one it
    // required (audited checks) and the unit lacks is an error like any other; one that was only
    // file-permission fallbacks may not be needed (`generate` and `apply` leave it out unproven).
    let withheld_mask = |required: bool| {
        let names = recommendation.withheld.iter().filter(|left_out| (left_out.class == Class::Required) == required);
        crate::caps::mask_of(names.map(|left_out| left_out.name.as_str()))
    };
    let (withheld_required, withheld_conditional) = (withheld_mask(true), withheld_mask(false));
    for left_out in &recommendation.withheld {
        let bit = caps::number(&left_out.name).map_or(0, |number| 1u64 << number);
        if withheld_conditional & bit == 0 || usable & bit != 0 {
            continue;
        }
        findings.push(finding(
            Severity::Info,
            format!(
                "the profile's {} is not granted by capdisc: it amounts to root for {}, and its checks were only file-permission fallbacks (possibly not needed)",
                left_out.name,
                user_label(unit)
            ),
            format!("`capdisc minimize` proves whether it is needed; `capdisc apply --allow-dangerous {}` grants it anyway", left_out.name),
        ));
    }
    let required: u64 = recommendation.mask() | withheld_required;
    for cap in caps::decode_mask(required & !usable) {
        let name = caps::name(cap);
        let used_in = profile.capability(&name).and_then(|use_| use_.syscalls.first()).map(|s| s.name.clone()).unwrap_or_default();
        let mut fix = if unit.non_root() {
            format!("grant it: CapabilityBoundingSet= and AmbientCapabilities= must both include {name}")
        } else {
            format!("add {name} to CapabilityBoundingSet=")
        };
        if withheld_required & (1 << cap) != 0 {
            fix.push_str(&format!(
                "; it amounts to root for {}, so `capdisc generate` leaves it out unproven: `capdisc minimize` proves whether it is needed",
                user_label(unit)
            ));
        }
        findings.push(finding(
            Severity::Error,
            format!("the profile used {name} (in {used_in}), which this configuration does not grant: it will fail"),
            fix,
        ));
    }
    let unused = usable & !(required | withheld_conditional);
    if unused == 0 {
        return;
    }
    if !unit.bounding_assigned {
        findings.push(finding(
            Severity::Warning,
            format!("CapabilityBoundingSet= is not set, so every capability is available; the profile needs only {}", mask_text(required)),
            format!("CapabilityBoundingSet={} (`capdisc generate` writes the drop-in)", mask_names(required).join(" ")),
        ));
    } else {
        for name in mask_names(unused) {
            findings.push(finding(
                Severity::Info,
                format!("{name} is granted but the profile never used it"),
                format!("remove {name} (or record a longer exercise of the service first)"),
            ));
        }
    }
}

fn user_label(unit: &Effective) -> String {
    match (&unit.user, unit.dynamic_user) {
        (Some(user), _) => format!("the non-root service (User={user})"),
        (None, true) => "the non-root service (DynamicUser=yes)".into(),
        (None, false) => "the service".into(),
    }
}

/// Exit status of `capdisc lint`: 1 when there is a warning or worse.
pub fn exit_code(findings: &[Finding]) -> i32 {
    i32::from(findings.iter().any(|f| f.severity >= Severity::Warning))
}

pub fn render(unit: &Effective, findings: &[Finding]) -> String {
    let mut out = format!("{} ({}):\n", unit.unit, unit.source);
    out.push_str(&format!(
        "  bounding: {}\n  ambient:  {}\n  user:     {}\n",
        if unit.bounding_assigned { mask_text(unit.bounding) } else { "all (not set)".into() },
        mask_text(unit.ambient),
        unit.user.clone().unwrap_or_else(|| if unit.dynamic_user { "dynamic".into() } else { "root".into() })
    ));
    if findings.is_empty() {
        out.push_str("no findings\n");
    }
    for f in findings {
        out.push_str(&format!("{}: {}\n  fix: {}\n", f.severity, f.cause, f.fix));
    }
    out
}
