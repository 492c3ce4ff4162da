//! The workloads every backend must agree on, the guest's /init script that records them with
//! each backend, and the comparison with the host's results.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::run::output;

pub struct Workload {
    pub name: &'static str,
    pub args: &'static [&'static str],
}

/// A file the chown workload changes (created on the host and in the guest).
const OWNED: &str = "/tmp/capdisc-vm-owned";

pub const WORKLOADS: [Workload; 5] = [
    Workload { name: "bind443", args: &["bind", "443"] },
    Workload { name: "chown", args: &["chown", OWNED, "4242"] },
    Workload { name: "rawsocket", args: &["raw-socket"] },
    Workload { name: "kill", args: &["storm", "1000"] },
    Workload { name: "mmap", args: &["mmap", "100"] },
];

pub const BACKENDS: [&str; 6] = ["raw_tp", "tp_btf", "fexit", "kprobe", "tracepoint", "auto"];

/// Required capabilities per workload.
pub type Required = BTreeMap<String, BTreeSet<String>>;

pub fn guest_script() -> String {
    let mut script = String::from(
        "#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin\n\
         mount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -t devtmpfs devtmpfs /dev 2>/dev/null\n\
         mount -t cgroup2 cgroup2 /sys/fs/cgroup\nmount -t tmpfs tmpfs /tmp\n",
    );
    script.push_str(&format!("echo x > {OWNED}\necho \"CAPDISC-KERNEL $(uname -r)\"\n"));
    for backend in BACKENDS {
        for workload in &WORKLOADS {
            let name = workload.name;
            script.push_str(&format!(
                "capdisc record -q --json --backend {backend} -o /tmp/out.json -- /bin/workload {} >/dev/null 2>/tmp/err\n\
                 rc=$?\n\
                 if [ -s /tmp/out.json ]; then echo \"CAPDISC-RESULT {backend} {name} $rc $(tr -d '\\n' < /tmp/out.json)\"; \
                 else echo \"CAPDISC-ERROR {backend} {name} $rc $(head -n 1 /tmp/err)\"; fi\n\
                 rm -f /tmp/out.json\n",
                workload.args.join(" ")
            ));
        }
    }
    // capdisc trace with each backend: a denied bind must stream as one explained event.
    for backend in ["fexit", "kprobe"] {
        script.push_str(&format!(
            "capdisc trace -q --json --denied --backend {backend} -- /bin/workload --as-user 65534 bind 443 > /tmp/trace.out 2>/dev/null\n\
             echo \"CAPDISC-TRACE {backend} $(grep -c '\"verdict\":\"denied\"' /tmp/trace.out) $(grep '\"verdict\"' /tmp/trace.out | grep -c '\"syscall\":\"bind\"') $(grep -c 'outside the bounding set\\|does not hold it' /tmp/trace.out) $(grep -c '\"source\":\"check\"' /tmp/trace.out) $(grep '\"returned\"' /tmp/trace.out | grep '\"syscall\":\"bind\"' | grep -c '\"errno\":\"EACCES\"')\"\n\
             grep '\"verdict\"\\|\"returned\"' /tmp/trace.out | sed 's/^/CAPDISC-TRACE-EVENT {backend} /'\n"
        ));
    }
    // The sandbox's refusals, from the kernel's evidence: a call a real seccomp filter refused
    // (its exit without its entry), a write a read-only mount refused (EROFS), and a setuid exec
    // under no_new_privs that gained nothing (offsets from this kernel's BTF), on every kernel.
    script.push_str(
        "mkdir -p /tmp/ro && mount -t tmpfs -o ro tmpfs /tmp/ro
         capdisc trace -q --json --denied -- /bin/workload filtered adjtimex 1 > /tmp/sandbox.out 2>/dev/null
         capdisc trace -q --json --denied -- /bin/workload write-file /tmp/ro/hits.tmp >> /tmp/sandbox.out 2>/dev/null
         cp /bin/workload /tmp/setuid-workload && chmod 4755 /tmp/setuid-workload
         capdisc trace -q --json --denied -- /bin/workload --as-user 65534 exec-no-new-privs /tmp/setuid-workload noop >> /tmp/sandbox.out 2>/dev/null
         refused=$(grep '\"verdict\":\"refused\"' /tmp/sandbox.out)
         echo \"CAPDISC-SANDBOX $(echo \"$refused\" | grep '\"syscall\":\"adjtimex\"' | grep '\"by\":\"seccomp\"' | grep -c '\"errno\":\"EPERM\"') $(echo \"$refused\" | grep '\"path\":\"/tmp/ro/hits.tmp\"' | grep -c '\"errno\":\"EROFS\"') $(echo \"$refused\" | grep '\"by\":\"exec\"' | grep -c '\"path\":\"/tmp/setuid-workload\"') $(grep -c '\"verdict\":\"refused\"' /tmp/sandbox.out)\"
         grep '\"verdict\":\"refused\"' /tmp/sandbox.out | sed 's/^/CAPDISC-SANDBOX-EVENT /'
",
    );
    // watch --cgroup through a re-creation: the mkdir program arms the new cgroup before the
    // storm in it starts (no scan in between), on every kernel.
    script.push_str(
        "mkdir /sys/fs/cgroup/capdisc-mk
         capdisc watch --cgroup /capdisc-mk --learn 1h --interval 1 --state-dir /tmp/wmk > /tmp/wmk.txt 2>&1 &
         watcher=$!
         for i in $(seq 1 300); do grep -q 'capdisc: watching' /tmp/wmk.txt && break; sleep 0.2; done
         rmdir /sys/fs/cgroup/capdisc-mk && mkdir /sys/fs/cgroup/capdisc-mk
         sh -c 'echo $$ > /sys/fs/cgroup/capdisc-mk/cgroup.procs && exec /bin/workload storm 300' > /dev/null
         kill -TERM $watcher; wait $watcher
         state=/tmp/wmk/targets/%2Fcapdisc-mk.yaml
         echo \"CAPDISC-WATCHMKDIR $(grep -c 'warning' /tmp/wmk.txt) $(sed -n '/name: CAP_KILL/,/granted:/p' $state | sed -n 's/^ *granted: //p' | head -n 1)\"
         grep warning /tmp/wmk.txt | sed 's/^/CAPDISC-WATCHMKDIR-WARNING /'
",
    );
    script.push_str("echo CAPDISC-DONE\npoweroff -f\n");
    script
}

/// `watch --cgroup` through a re-creation: no warning (the kernel took the mkdir program) and
/// the storm in the new cgroup counted exactly (300 CAP_KILL checks).
pub fn judge_watch(serial: &str, kernel: &str, outcomes: &mut BTreeMap<String, Outcome>, failures: &mut Vec<String>) {
    let line = marked_lines(serial).find_map(|line| line.strip_prefix("CAPDISC-WATCHMKDIR ")).unwrap_or("(missing)");
    let warnings: Vec<&str> = marked_lines(serial).filter_map(|line| line.strip_prefix("CAPDISC-WATCHMKDIR-WARNING ")).collect();
    let ok = line.split_whitespace().collect::<Vec<_>>() == ["0", "300"];
    if !ok {
        failures.push(format!(
            "{kernel} watch --cgroup through a re-creation: {line} (warnings, CAP_KILL counted; want 0 300) {}",
            warnings.join(" | ")
        ));
    }
    let outcome =
        if ok { Outcome::Agrees { workloads: 1, chosen: None } } else { Outcome::Differs("re-created cgroup not counted".into()) };
    outcomes.insert("watch/mkdir".into(), outcome);
}

/// Judges the sandbox's refusals: exactly the seccomp-refused adjtimex (EPERM), the write the
/// read-only mount refused (EROFS, with its path) and the setuid exec that gained nothing under
/// no_new_privs, nothing else.
pub fn judge_sandbox(serial: &str, kernel: &str, outcomes: &mut BTreeMap<String, Outcome>, failures: &mut Vec<String>) {
    let line = marked_lines(serial).find_map(|line| line.strip_prefix("CAPDISC-SANDBOX ")).unwrap_or("(missing)");
    let events: Vec<&str> = marked_lines(serial).filter_map(|line| line.strip_prefix("CAPDISC-SANDBOX-EVENT ")).collect();
    let ok = line.split_whitespace().collect::<Vec<_>>() == ["1", "1", "1", "3"];
    if !ok {
        failures.push(format!(
            "{kernel} trace's sandbox refusals: {line} (seccomp adjtimex EPERM, EROFS on /tmp/ro/hits.tmp, the setuid exec under no_new_privs, refusals in all; want 1 1 1 3) {}",
            events.join(" | ")
        ));
    }
    let outcome = if ok { Outcome::Agrees { workloads: 3, chosen: None } } else { Outcome::Differs("sandbox refusals not seen".into()) };
    outcomes.insert("trace/sandbox".into(), outcome);
}

/// What one backend did on one kernel.
pub enum Outcome {
    /// Every workload recorded; `chosen` is the backend `auto` picked.
    Agrees {
        workloads: usize,
        chosen: Option<String>,
    },
    Unavailable(String),
    Differs(String),
}

impl Outcome {
    pub fn describe(&self) -> String {
        match self {
            Outcome::Agrees { workloads, chosen: Some(chosen) } => format!("ok, chose {chosen} ({workloads}/{workloads})"),
            Outcome::Agrees { workloads, chosen: None } => format!("ok ({workloads}/{workloads} agree)"),
            Outcome::Unavailable(reason) => format!("unavailable: {reason}"),
            Outcome::Differs(what) => format!("DIFFERS: {what}"),
        }
    }
}

/// The guest's lines that carry results: from the `CAPDISC-` marker on (the console may put
/// escape sequences or kernel messages in front of it).
pub fn marked_lines(serial: &str) -> impl Iterator<Item = &str> {
    serial.lines().filter_map(|line| line.find("CAPDISC-").map(|at| line[at..].trim_end_matches('\r')))
}

/// Lines `CAPDISC-RESULT backend workload rc json` and `CAPDISC-ERROR backend workload rc msg`.
pub struct GuestLine {
    pub backend: String,
    pub workload: String,
    pub result: Result<Value, String>,
}

pub fn parse_guest(serial: &str) -> Vec<GuestLine> {
    marked_lines(serial)
        .filter_map(|line| {
            let (kind, rest) = line.split_once(' ')?;
            let mut parts = rest.splitn(4, ' ');
            let (backend, workload, _rc) = (parts.next()?, parts.next()?, parts.next()?);
            let payload = parts.next().unwrap_or("");
            let result = match kind {
                "CAPDISC-RESULT" => serde_json::from_str(payload).map_err(|err| format!("unparsable profile: {err}")),
                "CAPDISC-ERROR" => Err(payload.trim_start_matches("capdisc: error: ").to_owned()),
                _ => return None,
            };
            Some(GuestLine { backend: backend.into(), workload: workload.into(), result })
        })
        .collect()
}

/// What `trace --denied` streamed for the denied bind with one backend.
pub struct TraceResult {
    /// One denied event, in bind, explained from the sets read in the kernel at the check (a
    /// regression test too: verifiers 5.17-6.7 once pruned that read on fexit), followed by
    /// what the bind returned (EACCES), seen at its exit.
    pub streamed: bool,
    /// Its cause is the expected one (the non-root process does not hold the capability).
    pub expected_cause: bool,
}

/// `CAPDISC-TRACE backend denied bind expected-cause sets-from-check returned-EACCES` lines,
/// counted in the guest.
pub fn trace_results(serial: &str) -> BTreeMap<String, TraceResult> {
    marked_lines(serial)
        .filter_map(|line| {
            let mut parts = line.strip_prefix("CAPDISC-TRACE ")?.split_whitespace();
            let backend = parts.next()?.to_owned();
            let counts: Vec<u32> = parts.filter_map(|count| count.parse().ok()).collect();
            let explained = marked_lines(serial)
                .any(|event| event.starts_with(&format!("CAPDISC-TRACE-EVENT {backend} ")) && event.contains("\"explain\":{\"cause\""));
            // What the bind returned, seen at its exit (raw_syscalls:sys_exit) on this kernel.
            let returned = counts.get(4) == Some(&1);
            let streamed = counts.first() == Some(&1) && counts.get(1) == Some(&1) && counts.get(3) == Some(&1) && explained && returned;
            Some((backend, TraceResult { streamed, expected_cause: counts.get(2) == Some(&1) }))
        })
        .collect()
}

/// Judges `trace --denied` per backend: the denied bind must be streamed and explained from the
/// checked credentials; an unexpected cause is reported, not failed.
pub fn judge_traces(serial: &str, kernel: &str, outcomes: &mut BTreeMap<String, Outcome>, failures: &mut Vec<String>) {
    let traces = trace_results(serial);
    for backend in ["fexit", "kprobe"] {
        let events: Vec<&str> = marked_lines(serial).filter(|line| line.starts_with(&format!("CAPDISC-TRACE-EVENT {backend} "))).collect();
        let result = traces.get(backend);
        let ok = result.is_some_and(|result| result.streamed);
        if result.is_some_and(|result| result.streamed && !result.expected_cause) {
            eprintln!(
                "xtask: vm: warning: {kernel} trace --backend {backend} explained the denied bind with an unexpected cause: {}",
                events.join(" | ")
            );
        }
        if !ok {
            failures.push(format!(
                "{kernel} trace --backend {backend}: the denied bind was not streamed, explained from the checked credentials and followed by what it returned (EACCES); events: {}",
                if events.is_empty() { "none".to_owned() } else { events.join(" | ") }
            ));
        }
        let outcome = if ok { Outcome::Agrees { workloads: 1, chosen: None } } else { Outcome::Differs("denied bind not traced".into()) };
        outcomes.insert(format!("trace/{backend}"), outcome);
    }
}

/// What every backend must agree on: each granted capability with its class, and the paths its
/// system calls named (`CAP_CHOWN required [/tmp/owned]`).
pub fn granted_of(profile: &Value) -> BTreeSet<String> {
    profile["capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|cap| cap["class"] == "required" || cap["class"] == "conditional")
        .map(|cap| {
            let paths: Vec<&str> = cap["paths"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            format!("{} {} [{}]", cap["name"].as_str().unwrap_or("?"), cap["class"].as_str().unwrap_or("?"), paths.join(","))
        })
        .collect()
}

/// The host's backend, its selection line, and the required sets.
pub struct HostResults {
    pub backend: String,
    pub selection: String,
    pub required: Required,
}

pub fn run_on_host(binaries: &Path) -> Result<HostResults> {
    std::fs::write(OWNED, "x")?;
    let mut required = Required::new();
    let (mut backend, mut selection) = (String::new(), String::new());
    for workload in &WORKLOADS {
        let out = std::env::temp_dir().join(format!("capdisc-vm-host-{}.json", workload.name));
        let result = output(
            Command::new(binaries.join("capdisc"))
                .args(["record", "-q", "--json", "-o"])
                .arg(&out)
                .arg("--")
                .arg(binaries.join("examples/workload"))
                .args(workload.args),
        )?;
        if !result.status.success() {
            bail!("host recording of {} failed: {}", workload.name, String::from_utf8_lossy(&result.stderr));
        }
        let profile: Value = serde_json::from_str(&std::fs::read_to_string(&out)?).context("host profile")?;
        backend = profile["backend"].as_str().unwrap_or_default().to_owned();
        selection = profile["backend_selection"].as_str().unwrap_or_default().to_owned();
        required.insert(workload.name.into(), granted_of(&profile));
        let _ = std::fs::remove_file(out);
    }
    let _ = std::fs::remove_file(OWNED);
    Ok(HostResults { backend, selection, required })
}

/// Compares one guest's results with the host's; fexit and kprobe must work and agree.
pub fn judge(lines: &[GuestLine], host: &HostResults, failures: &mut Vec<String>, kernel: &str) -> BTreeMap<String, Outcome> {
    let mut outcomes = BTreeMap::new();
    for backend in BACKENDS {
        let mine: Vec<&GuestLine> = lines.iter().filter(|line| line.backend == backend).collect();
        let mut chosen = None;
        let mut outcome = None;
        for line in &mine {
            match &line.result {
                Err(reason) => {
                    outcome.get_or_insert(Outcome::Unavailable(short(reason)));
                }
                Ok(profile) => {
                    chosen = profile["backend"].as_str().map(str::to_owned);
                    let expected = host.required.get(&line.workload).cloned().unwrap_or_default();
                    let got = granted_of(profile);
                    if got != expected {
                        outcome = Some(Outcome::Differs(format!("{}: {got:?} vs host {expected:?}", line.workload)));
                    }
                }
            }
        }
        let outcome = match outcome {
            Some(outcome) => outcome,
            None if mine.len() == WORKLOADS.len() => {
                Outcome::Agrees { workloads: mine.len(), chosen: (backend == "auto").then(|| chosen.unwrap_or_default()) }
            }
            None => Outcome::Differs(format!("{} of {} workloads reported", mine.len(), WORKLOADS.len())),
        };
        // Every backend must work where the kernel offers its hook: fexit and kprobe on every
        // guest kernel, the cap_capable tracepoint ones from 6.13.
        let must_work = matches!(backend, "fexit" | "kprobe" | "auto") || has_cap_capable_tracepoint(kernel);
        match &outcome {
            Outcome::Differs(what) => failures.push(format!("{kernel} {backend}: {what}")),
            Outcome::Unavailable(reason) if must_work => failures.push(format!("{kernel} {backend}: unavailable: {reason}")),
            _ => {}
        }
        outcomes.insert(backend.to_owned(), outcome);
    }
    outcomes
}

/// Whether a kernel release (`6.19.13+deb13-cloud-amd64`) has the `capability:cap_capable`
/// tracepoint (Linux 6.13 and later).
fn has_cap_capable_tracepoint(release: &str) -> bool {
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).filter_map(|part| part.parse::<u32>().ok());
    matches!((numbers.next(), numbers.next()), (Some(major), Some(minor)) if (major, minor) >= (6, 13))
}

/// The host's own column: the backend auto chose is the reference; the ones it skipped are
/// unavailable for the reason it gave.
pub fn host_column(host: &HostResults) -> BTreeMap<String, Outcome> {
    let mut outcomes = BTreeMap::new();
    let workloads = host.required.len();
    for skipped in host.selection.split(['(', ';']).filter_map(|part| part.trim().split_once(" skipped: ")) {
        outcomes.insert(skipped.0.to_owned(), Outcome::Unavailable(short(skipped.1)));
    }
    outcomes.insert(host.backend.clone(), Outcome::Agrees { workloads, chosen: None });
    outcomes.insert("auto".into(), Outcome::Agrees { workloads, chosen: Some(host.backend.clone()) });
    outcomes
}

fn short(reason: &str) -> String {
    if reason.contains("tracepoint capability:cap_capable does not exist") {
        "no tracepoint (6.13+)".into()
    } else if reason.contains("no kprobes") {
        "no kprobes".into()
    } else if reason.contains("BPF tracing program") {
        "fexit refused (EPERM)".into()
    } else {
        reason.chars().take(60).collect()
    }
}
