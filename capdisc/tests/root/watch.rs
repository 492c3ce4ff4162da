//! `capdisc watch` on real checks: exact counters, creep, a real Prometheus scraping it, the
//! state directory (`diff` flags it; a restart resumes without counting twice), and a gone
//! cgroup folded out of the kernel map.
use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::common::{capdisc, skip_without_root, workload};

/// A `capdisc watch` child; its stderr is collected; killed if a test panics.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
    port: u16,
}

impl Watch {
    fn start(cgroup: &Path, baseline: &Path, state: &Path) -> Self {
        let port = free_port();
        let mut child = capdisc()
            .args(["watch", "--cgroup"])
            .arg(cgroup)
            .arg("--baseline")
            .arg(baseline)
            .arg("--state-dir")
            .arg(state)
            .args(["--interval", "1", "--listen", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start capdisc watch");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (sink, mut reader) = (stderr.clone(), BufReader::new(child.stderr.take().expect("stderr")));
        std::thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().expect("lock").push_str(&line);
                line.clear();
            }
        });
        let watch = Self { child, stderr, port };
        watch.wait_for("capdisc: watching", "watch to start");
        watch
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    fn wait_for(&self, text: &str, what: &str) {
        wait_until(what, || self.stderr().contains(text).then_some(())).unwrap_or_else(|| panic!("stderr:\n{}", self.stderr()));
    }

    /// The value of one series on /metrics (labels as the exporter writes them, in order).
    fn metric(&self, series: &str) -> Option<u64> {
        let body = http_get(self.port, "/metrics")?;
        body.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
    }

    fn terminate(mut self) -> String {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait");
        std::thread::sleep(Duration::from_millis(100)); // the reader thread's last lines
        assert!(status.success(), "watch exited {status:?}:\n{}", self.stderr());
        self.stderr()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KILL_GRANTED: &str = r#"capdisc_capability_checks_total{target="CG",capability="CAP_KILL",verdict="granted"}"#;
const KILL_CREEP: &str = r#"capdisc_creep_total{target="CG",capability="CAP_KILL",verdict="granted"}"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Polls `probe` until it gives a value, for at most 120 s (TCG-slow machines included).
fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > deadline {
            eprintln!("gave up waiting for {what}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs the workload's CAP_KILL storm (`kill(pid, 0)` on another uid's process) inside a cgroup.
fn storm_in(cgroup: &Path, checks: u64) {
    let script = format!("echo $$ > '{}/cgroup.procs' && exec '{}' storm {checks}", cgroup.display(), workload().display());
    let status = Command::new("sh").arg("-c").arg(script).stdout(Stdio::null()).status().expect("run the storm");
    assert!(status.success(), "storm failed: {status:?}");
}

struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// A real Prometheus (Debian's package), scraping one target every second.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, scrape_port: u16) -> Option<Self> {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].into_iter().find(|path| Path::new(path).exists())?;
        let config = dir.join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: capdisc\n    static_configs:\n      - targets: ['127.0.0.1:{scrape_port}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("prometheus.log")).expect("log file"))
            .spawn()
            .expect("start prometheus");
        Some(Self { child, port })
    }

    /// The value of an instant query's first sample.
    fn query(&self, query: &str) -> Option<String> {
        let encoded: String = query
            .bytes()
            .map(|byte| if byte.is_ascii_alphanumeric() || byte == b'_' { (byte as char).to_string() } else { format!("%{byte:02X}") })
            .collect();
        let body = http_get(self.port, &format!("/api/v1/query?query={encoded}"))?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        json["data"]["result"][0]["value"][1].as_str().map(str::to_owned)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_counts_exactly_flags_creep_serves_prometheus_and_resumes() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (baseline, state) = (dir.path().join("baseline.yaml"), dir.path().join("state"));
    let recorded = capdisc().args(["record", "-q", "-o"]).arg(&baseline).args(["--", "true"]).status().expect("record true");
    assert!(recorded.success(), "baseline recording failed");
    let mount = capdisc::scope::cgroup2_mount().expect("cgroup v2");
    let cgroup = TestCgroup(mount.join(format!("capdisc-watch-test-{}", std::process::id())));
    fs::create_dir(&cgroup.0).expect("mkdir cgroup");
    let name = format!("/{}", cgroup.0.file_name().and_then(|name| name.to_str()).expect("utf-8"));
    let series = |template: &str| template.replace("CG", &name);

    let watch = Watch::start(&cgroup.0, &baseline, &state);
    storm_in(&cgroup.0, 100_000);
    let counted = wait_until("100000 checks on /metrics", || watch.metric(&series(KILL_GRANTED)).filter(|count| *count >= 100_000));
    assert_eq!(counted, Some(100_000), "exactly the storm's checks; stderr:\n{}", watch.stderr());
    watch.wait_for("capability=CAP_KILL syscall=kill comm=workload", "the creep line");
    assert_eq!(watch.metric(&series(KILL_CREEP)), Some(100_000));

    // A real Prometheus scrapes the endpoint and answers for the series.
    let prometheus = Prometheus::start(dir.path(), watch.port).expect("prometheus is installed (cargo xtask setup installs it)");
    let query = format!(r#"capdisc_capability_checks_total{{target="{name}",capability="CAP_KILL",verdict="granted"}}"#);
    let scraped = wait_until("Prometheus to scrape", || prometheus.query(&query));
    assert_eq!(
        scraped.as_deref(),
        Some("100000"),
        "prometheus log: {}",
        fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
    drop(prometheus);

    let stderr = watch.terminate();
    assert_eq!(stderr.matches("capability=CAP_KILL").count(), 1, "creep is announced once:\n{stderr}");
    let profile_path = state.join("targets").join(format!("{}.yaml", name.replace('/', "%2F")));
    let diff = capdisc().arg("diff").arg(&baseline).arg(&profile_path).output().expect("run diff");
    assert_eq!(diff.status.code(), Some(1), "diff flags the creep: {}", String::from_utf8_lossy(&diff.stdout));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("CAP_KILL"));

    // A restart resumes: the count continues from 100000, never counted twice; when the cgroup
    // is gone (as a restarted unit's old cgroup), its keys are folded out of the kernel map with
    // their counts kept.
    let watch = Watch::start(&cgroup.0, &baseline, &state);
    assert_eq!(wait_until("the resumed count", || watch.metric(&series(KILL_GRANTED))), Some(100_000));
    storm_in(&cgroup.0, 1_000);
    let counted = wait_until("101000", || watch.metric(&series(KILL_GRANTED)).filter(|count| *count >= 101_000));
    assert_eq!(counted, Some(101_000));
    // The storm's own keys (kill, the child's setuid/setgid, no-audit probes) outnumber the CPUs.
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get() as u64);
    let held = wait_until("kernel keys", || watch.metric("capdisc_kernel_keys ").filter(|keys| *keys > cpus));
    assert!(held.is_some(), "the live cgroup's keys are in the kernel map");
    fs::remove_dir(&cgroup.0).expect("rmdir the watched cgroup");
    // Folded out, but for the last key each CPU counted (its per-CPU memo holds it until that CPU
    // counts another): at most one per CPU.
    let folded = wait_until("the gone cgroup's keys folded", || watch.metric("capdisc_kernel_keys ").filter(|keys| *keys <= cpus));
    assert!(folded.is_some(), "a gone cgroup's keys leave the kernel map");
    assert_eq!(watch.metric(&series(KILL_GRANTED)), Some(101_000), "folding keeps the counts");
    let stderr = watch.terminate();
    assert!(!stderr.contains("creep:"), "creep already announced before the restart is not announced again:\n{stderr}");
    let profile = capdisc::profile::read(&profile_path).expect("resumed profile");
    assert_eq!(profile.capability("CAP_KILL").map(|cap| cap.granted), Some(101_000));

    let report = capdisc().args(["report", "--json", "--state-dir"]).arg(&state).output().expect("run report");
    let rows: serde_json::Value = serde_json::from_slice(&report.stdout).expect("report --json");
    let row = rows.as_array().and_then(|rows| rows.iter().find(|row| row["target"] == name.as_str())).expect("a row for the cgroup");
    let has_kill = |field: &str| row[field].as_array().is_some_and(|caps| caps.iter().any(|cap| cap == "CAP_KILL"));
    assert!(has_kill("used") && has_kill("creep"), "report row: {row}");
    assert!(row["checks"].as_u64().is_some_and(|checks| checks >= 101_000), "report row: {row}");
    assert!(row["declared"].is_null(), "a cgroup declares no bounding set: {row}");
    let table = capdisc().args(["report", "--state-dir"]).arg(&state).output().expect("run report");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|line| line.starts_with(&name) && line.contains("kill")), "report table:\n{text}");
}

#[test]
fn a_denial_outside_a_proven_baseline_is_a_hardening_regression() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (baseline, state) = (dir.path().join("proven.yaml"), dir.path().join("state"));
    // A proven baseline: `true` needs no capability, and minimize proves it.
    let proven = capdisc().args(["minimize", "-q", "-o"]).arg(&baseline).args(["--", "true"]).output().expect("minimize true");
    assert!(proven.status.success(), "{}", String::from_utf8_lossy(&proven.stderr));
    assert!(capdisc::profile::read(&baseline).expect("baseline").proven());
    let mount = capdisc::scope::cgroup2_mount().expect("cgroup v2");
    let cgroup = TestCgroup(mount.join(format!("capdisc-regression-test-{}", std::process::id())));
    fs::create_dir(&cgroup.0).expect("mkdir cgroup");
    let name = format!("/{}", cgroup.0.file_name().and_then(|name| name.to_str()).expect("utf-8"));

    let watch = Watch::start(&cgroup.0, &baseline, &state);
    // A non-root process signals root's init three times: CAP_KILL denied, audited.
    let script = format!(
        "echo $$ > '{}/cgroup.procs' && exec setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'kill -0 1; kill -0 1; kill -0 1; true'",
        cgroup.0.display()
    );
    let status = Command::new("sh").arg("-c").arg(script).stderr(Stdio::null()).status().expect("run the denied kills");
    assert!(status.success(), "{status:?}");
    let series = format!(r#"capdisc_hardening_regressions_total{{target="{name}",capability="CAP_KILL"}}"#);
    let counted = wait_until("the regression counter", || watch.metric(&series).filter(|count| *count >= 3));
    assert_eq!(counted, Some(3), "stderr:\n{}", watch.stderr());
    watch.wait_for(&format!("hardening regression: {name} was denied CAP_KILL (3 time(s) in kill by sh)"), "the regression line");
    let stderr = watch.terminate();
    assert!(stderr.contains("outside its proven set; re-prove over the path that failed"), "{stderr}");
    assert!(stderr.contains("or add just CAP_KILL"), "{stderr}");
    assert!(!stderr.contains(&format!("creep: target={name} capability=CAP_KILL")), "announced once, as a regression:\n{stderr}");
    // The exec's PATH lookups refused by mode bits are file-permission fallbacks: not regressions.
    assert!(!stderr.contains("was denied CAP_DAC_OVERRIDE"), "{stderr}");
}
