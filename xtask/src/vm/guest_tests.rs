//! The guest tests' results (guest-tests/, run in a guest by capdisc-guest-run): libtest's own
//! output read back from the serial log (lines `CAPDISC-TEST SUITE LINE`), each test's result
//! and what it printed, against the list of tests the binary holds (`--list`), so a test the
//! guest never reached (it died, or its time ran out) counts as failed, never as missing.
use std::{collections::BTreeMap, path::Path, process::Command};

use anyhow::Result;

use super::scenario::marked_lines;
use crate::run::stdout;

/// One test's result.
pub struct TestResult {
    /// `SUITE::module::name`.
    pub name: String,
    pub passed: bool,
    /// What it printed (its `report:` lines for a pass, everything for a failure).
    pub output: String,
}

/// The tests of `binary` that `filters` select (all without filters), as libtest lists them.
pub fn listed(binary: &Path, filters: &[String]) -> Result<Vec<String>> {
    let list = stdout(Command::new(binary).arg("--list").args(filters))?;
    Ok(list.lines().filter_map(|line| line.strip_suffix(": test")).map(str::to_owned).collect())
}

/// `suite`'s results in `serial`, one per test in `expected`.
pub fn results(serial: &str, suite: &str, expected: &[String]) -> Vec<TestResult> {
    let prefix = format!("CAPDISC-TEST {suite} ");
    let lines: Vec<&str> = marked_lines(serial).filter_map(|line| line.strip_prefix(&prefix)).collect();
    let mut outcome: BTreeMap<&str, bool> = BTreeMap::new();
    let mut sections: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut section: Option<&str> = None;
    for line in &lines {
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some(name) = rest.strip_suffix(" ... ok") {
                outcome.insert(name, true);
            } else if let Some(name) = rest.strip_suffix(" ... FAILED") {
                outcome.insert(name, false);
            }
        }
        if let Some(name) = line.strip_prefix("---- ").and_then(|rest| rest.strip_suffix(" stdout ----")) {
            section = Some(name);
            continue;
        }
        if matches!(*line, "successes:" | "failures:") || line.starts_with("test result: ") {
            section = None;
        }
        if let Some(name) = section {
            sections.entry(name).or_default().push(line);
        }
    }
    expected
        .iter()
        .map(|name| {
            let printed = sections.get(name.as_str()).map(|lines| lines.join("\n")).unwrap_or_default();
            match outcome.get(name.as_str()) {
                Some(true) => TestResult {
                    name: format!("{suite}::{name}"),
                    passed: true,
                    output: printed.lines().filter_map(|line| line.strip_prefix("report: ")).collect::<Vec<_>>().join("\n"),
                },
                Some(false) => TestResult { name: format!("{suite}::{name}"), passed: false, output: printed.trim_end().to_owned() },
                None => TestResult {
                    name: format!("{suite}::{name}"),
                    passed: false,
                    output: "did not run: the guest stopped before it (see its serial log)".into(),
                },
            }
        })
        .collect()
}

/// Prints each result (a failure with what it printed, a pass with its report lines) and adds
/// the failed ones, labelled with `guest`, to `failures`; whether every test passed.
pub fn report(results: &[TestResult], guest: &str, failures: &mut Vec<String>, out: &mut impl std::io::Write) -> bool {
    for result in results {
        let _ = writeln!(out, "  [{}] {}", if result.passed { "ok" } else { "FAILED" }, result.name);
        for line in result.output.lines() {
            let _ = writeln!(out, "        {line}");
        }
        if !result.passed {
            failures.push(format!("{guest}: {}", result.name));
        }
    }
    results.iter().all(|result| result.passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libtest_output_and_counts_what_never_ran() {
        let serial = "\
CAPDISC-TEST story running 3 tests
CAPDISC-TEST story test app::s01 ... ok
[  12.0] some kernel line
CAPDISC-TEST story test app::s02 ... FAILED
CAPDISC-TEST story 
CAPDISC-TEST story successes:
CAPDISC-TEST story 
CAPDISC-TEST story ---- app::s01 stdout ----
CAPDISC-TEST story report: exposure 9.6
CAPDISC-TEST story other line
CAPDISC-TEST story 
CAPDISC-TEST story successes:
CAPDISC-TEST story     app::s01
CAPDISC-TEST story 
CAPDISC-TEST story failures:
CAPDISC-TEST story 
CAPDISC-TEST story ---- app::s02 stdout ----
CAPDISC-TEST story thread 'app::s02' panicked at x.rs:1:1:
CAPDISC-TEST story expected: 1
CAPDISC-TEST story 
CAPDISC-TEST story failures:
CAPDISC-TEST story     app::s02
CAPDISC-TEST story test result: FAILED. 1 passed; 1 failed
";
        let expected = ["app::s01", "app::s02", "app::s03"].map(String::from);
        let results = results(serial, "story", &expected);
        let summary: Vec<(&str, bool, &str)> = results.iter().map(|r| (r.name.as_str(), r.passed, r.output.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("story::app::s01", true, "exposure 9.6"),
                ("story::app::s02", false, "thread 'app::s02' panicked at x.rs:1:1:\nexpected: 1"),
                ("story::app::s03", false, "did not run: the guest stopped before it (see its serial log)"),
            ]
        );
    }
}
