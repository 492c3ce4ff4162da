//! Formatting trace events: a table line or a JSON object per check and per sandbox refusal
//! (field names are stable and documented in docs/trace.md), `--unique`, `--denied`, no-audit
//! hiding, and the lost-event count read from the kernel's counter.
use crate::support::console;
use std::{
    collections::{HashMap, HashSet},
    io::Write,
};

use aya::Ebpf;
use capdisc_common::{counter, flags, Refusal, SyscallOutcome, TraceEvent};
use serde_json::json;

use super::explain::{explain, CredSets};
use crate::{
    caps,
    classify::{self, call_site_frames},
    host::CgroupNames,
    kernel::kallsyms::Kallsyms,
    kernel::syscalls,
    sandbox::{self, Refused, Settings, SyscallGroups},
    support::clock::{rfc3339, BootClock},
    systemd::unit_of_cgroup_path,
};

#[derive(Clone, Copy, Debug, Default)]
pub struct TraceFilter {
    pub unique: bool,
    pub stacks: bool,
    pub denied_only: bool,
    pub show_noaudit: bool,
    pub json: bool,
    /// Show file-permission fallbacks (hidden by default, counted in the summary).
    pub fallbacks: bool,
}

pub struct Printer {
    filter: TraceFilter,
    kallsyms: Option<Kallsyms>,
    cgroups: CgroupNames,
    clock: BootClock,
    seen: HashSet<(u64, u32, bool, i32)>,
    /// cgroup ids a rescan did not name (gone already): not rescanned for again.
    unnamed: HashSet<u64>,
    events: u64,
    shown: u64,
    lost: u64,
    /// File-permission fallbacks not shown (without --fallbacks).
    hidden_fallbacks: u64,
    /// Threads whose denial was shown and whose system call has not returned yet: what it
    /// returned is shown after it.
    awaiting: HashMap<u32, i32>,
    /// Sandbox refusals seen, and those shown.
    refusals: u64,
    refusals_shown: u64,
    /// Failed file accesses no sandbox setting explains (the files' own permissions): not shown.
    not_sandbox: u64,
    /// Each unit's sandboxing settings, read once at its first refusal (None: not readable).
    settings: HashMap<String, Option<Settings>>,
    /// This host's system-call groups, read at the first refusal.
    groups: Option<SyscallGroups>,
    seen_refusals: HashSet<(u64, i32, u32, i64)>,
}

impl Printer {
    /// `cgroups`: names known up front (the target's own cgroup may be gone by the time an
    /// event is printed, as when a unit fails at start).
    pub fn new(filter: TraceFilter, cgroups: CgroupNames) -> Self {
        Self {
            filter,
            kallsyms: Kallsyms::load().ok(),
            cgroups,
            clock: BootClock::now(),
            seen: HashSet::new(),
            unnamed: HashSet::new(),
            events: 0,
            shown: 0,
            lost: 0,
            hidden_fallbacks: 0,
            awaiting: HashMap::new(),
            refusals: 0,
            refusals_shown: 0,
            not_sandbox: 0,
            settings: HashMap::new(),
            groups: None,
            seen_refusals: HashSet::new(),
        }
    }

    pub fn header(&self) {
        console::outln!(
            "{}",
            Row {
                time: "TIME",
                pid: "PID",
                tid: "TID",
                uid: "UID",
                comm: "COMM",
                unit: "UNIT",
                cap: "CAPABILITY",
                verdict: "VERDICT",
                audit: "AUDIT",
                syscall: "SYSCALL"
            }
        );
    }

    pub fn summary(&self) -> String {
        let hidden = match self.hidden_fallbacks {
            0 => String::new(),
            count => format!(", {count} file-permission fallback(s) hidden (--fallbacks shows them)"),
        };
        let refusals = match (self.refusals, self.not_sandbox) {
            (0, _) => String::new(),
            (seen, 0) => format!(", {seen} sandbox refusal(s) seen, {} shown", self.refusals_shown),
            (seen, other) => format!(
                ", {seen} sandbox refusal(s) seen, {} shown ({other} failed file access(es) no sandbox setting explains hidden)",
                self.refusals_shown
            ),
        };
        format!("{} check(s) seen, {} shown, {} lost{hidden}{refusals}", self.events, self.shown, self.lost)
    }

    /// Reports events the kernel could not queue since the last call.
    pub fn tick_counters(&mut self, ebpf: &Ebpf) {
        let Ok(counters) = crate::probe::counters(ebpf) else { return };
        let lost = counters[counter::EVENTS_LOST as usize];
        if lost > self.lost {
            let new = lost - self.lost;
            self.lost = lost;
            if self.filter.json {
                console::outln!("{}", json!({ "lost": new, "lost_total": lost }));
            } else {
                console::say!("{new} event(s) lost (ring buffer full; {lost} in all): use --buffer-size, --unique or a narrower target");
            }
        }
    }

    fn frames(&self, event: &TraceEvent) -> Vec<String> {
        let len = (event.stack_len as usize).min(event.stack.len());
        let names: Vec<String> = event.stack[..len]
            .iter()
            .map(|ip| self.kallsyms.as_ref().and_then(|k| k.function(*ip)).map(str::to_owned).unwrap_or_else(|| format!("{ip:#x}")))
            .collect();
        call_site_frames(&names)
    }

    fn unit(&mut self, cgroup_id: u64) -> (String, Option<String>) {
        if self.cgroups.path(cgroup_id).is_none() && self.unnamed.insert(cgroup_id) {
            self.cgroups.rescan();
        }
        let path = self.cgroups.path(cgroup_id).map(str::to_owned).unwrap_or_else(|| format!("cgroup {cgroup_id}"));
        let unit = unit_of_cgroup_path(&path);
        (path, unit)
    }
}

impl crate::session::Observer for Printer {
    fn tick(&mut self, ebpf: &Ebpf) {
        self.tick_counters(ebpf);
    }

    fn event(&mut self, event: &TraceEvent) {
        self.events += 1;
        let frames = self.frames(event);
        let sites = if frames.is_empty() { Vec::new() } else { vec![frames.clone()] };
        let noaudit = classify::noaudit_reason(event.flags, &sites).is_some();
        let denied = event.ret != 0;
        if (noaudit && !self.filter.show_noaudit) || (self.filter.denied_only && !denied) {
            return;
        }
        let fallback = classify::fallback_site(&frames);
        if fallback.is_some() && !self.filter.fallbacks {
            self.hidden_fallbacks += 1;
            return;
        }
        let path_len = (event.path_len as usize).saturating_sub(1).min(event.path.len());
        let path = (path_len > 0).then(|| String::from_utf8_lossy(&event.path[..path_len]).into_owned());
        if self.filter.unique && !self.seen.insert((event.cgroup_id, event.cap, denied, event.syscall)) {
            return;
        }
        self.shown += 1;
        let (cgroup, unit) = self.unit(event.cgroup_id);
        let comm = crate::probe::comm_text(&event.comm);
        let syscall = syscalls::name(event.syscall);
        let time = rfc3339(self.clock.wall(event.ts_ns));
        let at_check = (event.sets_known != 0).then_some(CredSets { euid: event.euid, sets: event.sets });
        let explanation =
            denied.then(|| explain(event.pid, event.cap, &syscall, event.flags & flags::FOREIGN_USERNS != 0, at_check, fallback));
        if denied {
            self.awaiting.insert(event.tid, event.syscall);
        }
        let mut out = std::io::stdout().lock();
        if self.filter.json {
            let mut object = json!({
                "time": time,
                "pid": event.pid,
                "tid": event.tid,
                "uid": event.uid,
                "comm": comm,
                "cgroup": cgroup,
                "unit": unit,
                "cap": event.cap,
                "cap_name": caps::name(event.cap),
                "verdict": if denied { "denied" } else { "granted" },
                "audit": !noaudit,
                "syscall": syscall,
                "syscall_nr": event.syscall,
                "foreign_userns": event.flags & flags::FOREIGN_USERNS != 0,
                "path": path,
                "fallback": fallback.map(|fallback| json!({ "caller": fallback.caller, "refused": fallback.refused })),
            });
            if self.filter.stacks {
                object["stack"] = json!(frames);
            }
            if let Some(explanation) = &explanation {
                object["errno"] = json!(explanation.errno);
                object["explain"] = json!(explanation);
            }
            let _ = writeln!(out, "{object}");
        } else {
            let clock = time.get(11..23).unwrap_or(&time).to_owned();
            let cap = format!("{}({})", caps::name(event.cap), event.cap);
            let (pid, tid, uid) = (event.pid.to_string(), event.tid.to_string(), event.uid.to_string());
            let row = Row {
                time: &clock,
                pid: &pid,
                tid: &tid,
                uid: &uid,
                comm: &comm,
                unit: unit.as_deref().unwrap_or("-"),
                cap: &cap,
                verdict: if denied { "DENIED" } else { "granted" },
                audit: if noaudit { "no-audit" } else { "audit" },
                syscall: &syscall,
            };
            let _ = writeln!(out, "{row}");
            if let Some(explanation) = &explanation {
                let sets = explanation
                    .sets
                    .as_ref()
                    .map(|sets| {
                        format!(
                            "; sets eff={} prm={} inh={} bnd={} amb={}",
                            sets.effective, sets.permitted, sets.inheritable, sets.bounding, sets.ambient
                        )
                    })
                    .unwrap_or_default();
                let at = path.as_deref().map(|path| format!(" {path}")).unwrap_or_default();
                let kind = if fallback.is_some() { "a file-permission fallback: " } else { "" };
                let _ = writeln!(
                    out,
                    "  which permission: {kind}{} in {syscall}{at} ({syscall}() returns {} when refused){sets}; cause: {}",
                    caps::name(event.cap),
                    explanation.errno,
                    explanation.cause
                );
            }
            if self.filter.stacks && !frames.is_empty() {
                let _ = writeln!(out, "  stack: {}", frames.join(" <- "));
            }
        }
        let _ = out.flush();
    }

    fn refusal(&mut self, refusal: &Refusal) {
        self.refusals += 1;
        let refused = Refused::from_kernel(&refusal.key, &refusal.stats);
        let (cgroup, unit) = self.unit(refusal.key.cgroup_id);
        let settings =
            unit.as_ref().and_then(|unit| self.settings.entry(unit.clone()).or_insert_with(|| Settings::of_unit(unit).ok()).as_ref());
        let groups = self.groups.get_or_insert_with(SyscallGroups::of_this_host);
        let Some(attribution) = sandbox::attribute(&refused, settings, groups) else {
            self.not_sandbox += 1;
            return;
        };
        let key = (refusal.key.cgroup_id, refusal.key.syscall, refusal.key.how, refusal.key.ret);
        if self.filter.unique && !self.seen_refusals.insert(key) {
            return;
        }
        self.refusals_shown += 1;
        let time = rfc3339(self.clock.wall(refusal.ts_ns));
        let by = refused.kind.name();
        if self.filter.json {
            let object = json!({
                "time": time,
                "pid": refusal.pid,
                "tid": refusal.tid,
                "comm": refused.comm,
                "cgroup": cgroup,
                "unit": unit,
                "verdict": "refused",
                "syscall": refused.syscall,
                "syscall_nr": refused.number,
                "path": refused.path,
                "refused": {
                    "by": by,
                    "returned": refused.returned,
                    "errno": refused.errno(),
                    "args": refused.args,
                },
                "setting": attribution.setting,
                "why": attribution.why,
                "fix": attribution.fix,
                "fix_alternative": attribution.alternative,
            });
            console::outln!("{object}");
            return;
        }
        let clock = time.get(11..23).unwrap_or(&time).to_owned();
        let (pid, tid) = (refusal.pid.to_string(), refusal.tid.to_string());
        let setting = attribution.setting.as_deref().and_then(|line| line.split_once('=')).map(|(key, _)| key).unwrap_or(by);
        let row = Row {
            time: &clock,
            pid: &pid,
            tid: &tid,
            uid: "-",
            comm: &refused.comm,
            unit: unit.as_deref().unwrap_or("-"),
            cap: setting,
            verdict: "REFUSED",
            audit: "-",
            syscall: &refused.syscall,
        };
        let by_setting = attribution.setting.as_deref().map(|setting| format!(" by {setting}")).unwrap_or_default();
        let fix = attribution.fix_text().map(|fix| format!("; fix: {fix}")).unwrap_or_default();
        console::outln!("{row}\n  which permission: {}{by_setting}: {}{fix}", refused.describe(), attribution.why);
    }

    fn outcome(&mut self, outcome: &SyscallOutcome) {
        if self.awaiting.get(&outcome.tid) != Some(&outcome.syscall) {
            return;
        }
        self.awaiting.remove(&outcome.tid);
        let syscall = syscalls::name(outcome.syscall);
        let errno = (outcome.ret < 0).then(|| crate::kernel::errno::name(outcome.ret.unsigned_abs()));
        if self.filter.json {
            let returned = json!({ "tid": outcome.tid, "syscall": syscall, "value": outcome.ret, "errno": errno });
            console::outln!("{}", json!({ "returned": returned }));
        } else {
            match errno {
                Some(errno) => console::outln!("  {syscall}() returned {errno}: the refusal failed it"),
                None => console::outln!("  {syscall}() succeeded (returned {}): the refusal failed nothing", outcome.ret),
            }
        }
    }
}

/// One line of the table, header included: the column widths live here only.
struct Row<'a> {
    time: &'a str,
    pid: &'a str,
    tid: &'a str,
    uid: &'a str,
    comm: &'a str,
    unit: &'a str,
    cap: &'a str,
    verdict: &'a str,
    audit: &'a str,
    syscall: &'a str,
}

impl std::fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<12} {:>7} {:>7} {:>6} {:<16} {:<24} {:<26} {:<7} {:<8} {}",
            self.time, self.pid, self.tid, self.uid, self.comm, self.unit, self.cap, self.verdict, self.audit, self.syscall
        )
    }
}
