//! What the `watch` tests share: a `capdisc watch` child, a real Prometheus, a test cgroup, the
//! CAP_KILL storm, and polling with a deadline.
use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::common::{capdisc, workload};

/// A `capdisc watch` child; its stderr is collected; killed if a test panics.
pub struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
    pub port: u16,
}

impl Watch {
    pub fn start(cgroup: &Path, baseline: &Path, state: &Path) -> Self {
        Self::start_on(&[cgroup], baseline, state)
    }

    pub fn start_on(cgroups: &[&Path], baseline: &Path, state: &Path) -> Self {
        Self::start_with(cgroups, baseline, state, "1")
    }

    /// `interval`: seconds between durable writes of the state (the counters move with them).
    pub fn start_with(cgroups: &[&Path], baseline: &Path, state: &Path, interval: &str) -> Self {
        Self::start_at(cgroups, baseline, state, interval, free_port())
    }

    /// [`Watch::start_with`], serving metrics on `port` (a restart on the same endpoint).
    pub fn start_at(cgroups: &[&Path], baseline: &Path, state: &Path, interval: &str, port: u16) -> Self {
        let mut command = capdisc();
        command.arg("watch");
        for cgroup in cgroups {
            command.arg("--cgroup").arg(cgroup);
        }
        let mut child = command
            .arg("--baseline")
            .arg(baseline)
            .arg("--state-dir")
            .arg(state)
            .args(["--interval", interval, "--listen", &format!("127.0.0.1:{port}")])
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

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    pub fn wait_for(&self, text: &str, what: &str) {
        wait_until(what, || self.stderr().contains(text).then_some(())).unwrap_or_else(|| panic!("stderr:\n{}", self.stderr()));
    }

    /// The value of one series on /metrics (labels as the exporter writes them, in order).
    pub fn metric(&self, series: &str) -> Option<u64> {
        let body = http_get(self.port, "/metrics")?;
        body.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
    }

    pub fn sigkill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(mut self) -> String {
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

pub const KILL_GRANTED: &str = r#"capdisc_capability_checks_total{target="CG",capability="CAP_KILL",verdict="granted"}"#;
pub const KILL_CREEP: &str = r#"capdisc_creep_total{target="CG",capability="CAP_KILL",verdict="granted"}"#;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Polls `probe` until it gives a value, for at most 120 s (TCG-slow machines included).
pub fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
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
pub fn storm_in(cgroup: &Path, checks: u64) {
    let script = format!("echo $$ > '{}/cgroup.procs' && exec '{}' storm {checks}", cgroup.display(), workload().display());
    let status = Command::new("sh").arg("-c").arg(script).stdout(Stdio::null()).status().expect("run the storm");
    assert!(status.success(), "storm failed: {status:?}");
}

pub struct TestCgroup(pub PathBuf);

impl TestCgroup {
    /// A new cgroup `STEM-PID` under the cgroup v2 root, removed when dropped.
    pub fn make(stem: &str) -> Self {
        let cgroup = Self::planned(stem);
        fs::create_dir(&cgroup.0).expect("mkdir cgroup");
        cgroup
    }

    /// Where [`TestCgroup::make`] would put it, not made yet (a target that is missing).
    pub fn planned(stem: &str) -> Self {
        let mount = capdisc::kernel::cgroup2_mount().expect("cgroup v2");
        Self(mount.join(format!("{stem}-{}", std::process::id())))
    }

    /// Its path relative to the cgroup v2 root: the target's name in watch's output.
    pub fn name(&self) -> String {
        format!("/{}", self.0.file_name().and_then(|name| name.to_str()).expect("utf-8"))
    }
}

/// A baseline of no capabilities: a recording of `true`, in `dir`.
pub fn empty_baseline(dir: &Path) -> PathBuf {
    let baseline = dir.join("baseline.yaml");
    let recorded = capdisc().args(["record", "-q", "-o"]).arg(&baseline).args(["--", "true"]).status().expect("record true");
    assert!(recorded.success(), "baseline recording failed");
    baseline
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// A real Prometheus (Debian's package), scraping one target every second.
pub struct Prometheus {
    child: Child,
    pub port: u16,
}

impl Prometheus {
    /// Scraping one `watch` every second (job `capdisc`).
    pub fn start(dir: &Path, scrape_port: u16) -> Option<Self> {
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: capdisc\n    static_configs:\n      - targets: ['127.0.0.1:{scrape_port}']\n"
        );
        Self::start_with(dir, &config)
    }

    /// With this configuration, its data and log in `dir` (one directory per Prometheus).
    pub fn start_with(dir: &Path, config: &str) -> Option<Self> {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].into_iter().find(|path| Path::new(path).exists())?;
        fs::create_dir_all(dir).expect("prometheus directory");
        let config_path = dir.join("prometheus.yml");
        fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("prometheus.log")).expect("log file"))
            .spawn()
            .expect("start prometheus");
        Some(Self { child, port })
    }

    pub fn log(dir: &Path) -> String {
        fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The value of an instant query's first sample.
    pub fn query(&self, query: &str) -> Option<String> {
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
