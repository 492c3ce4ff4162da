//! Reading the systemd guest's story (guest/story.sh) from its serial log: each step's result,
//! the exposure numbers, and the every-unit table (`record --all` against the bounding sets the
//! shipped units declare).
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::scenario::{marked_lines, required_of};

pub struct Story {
    steps: BTreeMap<String, String>,
    all: Option<Value>,
    declared: BTreeMap<String, String>,
}

pub fn parse(serial: &str) -> Story {
    let mut story = Story { steps: BTreeMap::new(), all: None, declared: BTreeMap::new() };
    for line in marked_lines(serial) {
        if let Some(rest) = line.strip_prefix("CAPDISC-STORY ") {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            story.steps.insert(key.to_owned(), value.trim().to_owned());
        } else if let Some(json) = line.strip_prefix("CAPDISC-ALL ") {
            story.all = serde_json::from_str(json).ok();
        } else if let Some(rest) = line.strip_prefix("CAPDISC-DECLARED ") {
            let (unit, caps) = rest.split_once(' ').unwrap_or((rest, ""));
            story.declared.insert(unit.to_owned(), caps.trim().to_owned());
        }
    }
    story
}

impl Story {
    fn step(&self, key: &str) -> &str {
        self.steps.get(key).map(String::as_str).unwrap_or("(missing)")
    }

    /// (what was checked, passed) for each story step.
    pub fn checks(&self) -> Vec<(String, bool)> {
        let number = |key: &str| self.step(key).parse::<f64>().ok();
        let mut checks = vec![
            ("1. the story's unit fails".to_owned(), self.step("step1-state") != "active"),
            ("1. its log says bind: permission denied".to_owned(), self.step("step1-log") == "bind: permission denied"),
            ("2. lint exits 1".to_owned(), self.step("step2-exit") == "1"),
            ("2. lint names the empty bounding set".to_owned(), self.step("step2-cause") == "found"),
            ("2b. trace --denied --unit --restart exits 0".to_owned(), self.step("step2b-exit") == "0"),
            (
                "2b. it answers: app.service, CAP_NET_BIND_SERVICE in bind, EACCES, outside the bounding set".to_owned(),
                self.step("step2b-answer") == "found",
            ),
            ("3. record --restart --permissive succeeds".to_owned(), self.step("step3-exit") == "0"),
            ("3. it finds exactly CAP_NET_BIND_SERVICE required".to_owned(), self.step("step3-required") == "CAP_NET_BIND_SERVICE"),
            ("3. the permissive drop-in is removed".to_owned(), self.step("step3-dropin") == "removed"),
            ("4a. apply without --allow-widen refuses (exit 1)".to_owned(), self.step("step4a-exit") == "1"),
            ("4a. it names CAP_NET_BIND_SERVICE with its evidence".to_owned(), self.step("step4a-named") == "found"),
            ("4a. it wrote nothing".to_owned(), self.step("step4a-written") == "no"),
            ("4. apply --allow-widen succeeds (systemd reads back the sets)".to_owned(), self.step("step4-exit") == "0"),
            ("4. the service runs".to_owned(), self.step("step4-state") == "active"),
            ("4. it answers on :443".to_owned(), self.step("step4-http") == "capdisc demo"),
            ("6. record attached without restart succeeds".to_owned(), self.step("step6-exit") == "0"),
            ("6. it sees the reload's bind".to_owned(), self.step("step6-required").split(',').any(|cap| cap == "CAP_NET_BIND_SERVICE")),
            ("6. the service kept running".to_owned(), self.step("step6-active") == "active"),
            ("7. a permissive recording lifts the bounding set".to_owned(), self.step("step7-lifted") == "yes"),
            ("7. a second capdisc on the unit refuses (exit 2)".to_owned(), self.step("step7-second-exit") == "2"),
            ("7. it names the pid holding the unit".to_owned(), self.step("step7-second-names") == "found"),
            (
                format!("7. after kill -9 the guardian restored the unit within 30 s ({} s)", self.step("step7-restored-after")),
                self.step("step7-restored-after").parse::<u32>().is_ok_and(|secs| secs <= 30),
            ),
            ("7. no capdisc drop-in remains".to_owned(), self.step("step7-dropin-after") == "removed"),
            (
                format!("7. the unit runs under its own set again (CapBnd {})", self.step("step7-capbnd-after")),
                self.step("step7-state-after") == "active" && self.step("step7-capbnd-after") == self.step("step7-capbnd-before"),
            ),
            ("8. lint exits 1 on a leftover drop-in".to_owned(), self.step("step8-lint-exit") == "1"),
            ("8. lint names the leftover and capdisc restore".to_owned(), self.step("step8-lint-leftover") == "found"),
            ("8. lint names root-equivalent ambient capabilities".to_owned(), self.step("step8-lint-danger") == "found"),
            (
                "8. record refuses (exit 2) and says how to clear it".to_owned(),
                self.step("step8-record-exit") == "2" && self.step("step8-record-says") == "found",
            ),
            ("8. capdisc restore clears it".to_owned(), self.step("step8-restore-exit") == "0" && self.step("step8-dropin") == "removed"),
            (
                format!("8. the unit runs under its own set again (CapBnd {})", self.step("step8-capbnd")),
                self.step("step8-capbnd") == self.step("step7-capbnd-before"),
            ),
            ("9. minimize --unit api.service --check ... --apply exits 0".to_owned(), self.step("step9-exit") == "0"),
            ("9. the python service answers HTTP 200 under the proven set".to_owned(), self.step("step9-http") == "200"),
            (
                format!("9. bounding = ambient = CAP_NET_BIND_SERVICE ({} / {})", self.step("step9-bounding"), self.step("step9-ambient")),
                self.step("step9-bounding") == "cap_net_bind_service" && self.step("step9-ambient") == "cap_net_bind_service",
            ),
            ("9. NoNewPrivileges=yes".to_owned(), self.step("step9-nnp") == "yes"),
            (format!("9. minimize --apply prints systemd's score before and after ({})", self.step("step9-scores")), {
                let scores: Vec<f64> = self.step("step9-scores").split(" -> ").filter_map(|n| n.trim().parse().ok()).collect();
                scores.len() == 2 && scores[1] <= scores[0]
            }),
            ("9. no capdisc runtime drop-in left".to_owned(), self.step("step9-runtime") == "none"),
            (
                format!("9. the permissive recording shows CAP_DAC_READ_SEARCH conditional with a path ({})", self.step("step9-dac")),
                self.step("step9-dac").starts_with("[('conditional', '/"),
            ),
            ("9. minimize dropped CAP_DAC_READ_SEARCH".to_owned(), self.step("step9-dac-verdict") == "['dropped']"),
            (
                format!(
                    "10. minimize --unit nginx.service exits 0 (recorded: {}; proven: {})",
                    self.step("step10-recorded"),
                    self.step("step10-proven")
                ),
                self.step("step10-exit") == "0",
            ),
            ("10. nginx verifies under its proven set".to_owned(), self.step("step10-verify") == "0"),
            (
                format!("10. nginx's proof ran its whole life ({})", self.step("step10-proof-phases")),
                self.step("step10-proof-phases") == "start,reload,stop,start again",
            ),
            (format!("10. each capability nginx uses knows its phases ({})", self.step("step10-phases")), {
                let entries: Vec<&str> = self.step("step10-phases").split_whitespace().collect();
                !entries.is_empty() && entries.iter().all(|entry| entry.split_once(':').is_some_and(|(_, phases)| !phases.is_empty()))
            }),
            (
                format!("10. nginx's coverage hints name what its imports imply ({})", self.step("step10-hints")),
                !self.step("step10-hints").is_empty()
                    && self.step("step10-hints") != "(missing)"
                    && self.step("step10-dropin-hints") == "found",
            ),
            ("9b. a verify trial's runtime drop-in was in place".to_owned(), self.step("step9b-trial") == "present"),
            (
                format!(
                    "9b. after kill -9 mid-trial the guardian restored the unit within 30 s ({} s)",
                    self.step("step9b-restored-after")
                ),
                self.step("step9b-restored-after").parse::<u32>().is_ok_and(|secs| secs <= 30),
            ),
            (
                format!("9b. the unit runs under its own set again (CapBnd {})", self.step("step9b-capbnd")),
                self.step("step9b-capbnd") == self.step("step9b-capbnd-before") && self.step("step9b-capbnd") != "(missing)",
            ),
            (
                format!(
                    "9a. the permissive recording of the python service shows CAP_DAC_READ_SEARCH conditional ({})",
                    self.step("step9a-dac")
                ),
                self.step("step9a-record-exit") == "0" && self.step("step9a-dac") == "['conditional']",
            ),
            (
                "9a. apply exits 0 and names CAP_DAC_READ_SEARCH as left out".to_owned(),
                self.step("step9a-apply-exit") == "0" && self.step("step9a-named") == "found",
            ),
            (
                format!(
                    "9a. bounding = ambient = CAP_NET_BIND_SERVICE ({} / {}), HTTP {}",
                    self.step("step9a-bounding"),
                    self.step("step9a-ambient"),
                    self.step("step9a-http")
                ),
                self.step("step9a-bounding") == "cap_net_bind_service"
                    && self.step("step9a-ambient") == "cap_net_bind_service"
                    && self.step("step9a-http") == "200",
            ),
            ("9a. lint after apply finds nothing (exit 0)".to_owned(), self.step("step9a-lint-exit") == "0"),
            ("9b. the trial's check was running at the kill".to_owned(), self.step("step9b-check-ran") == "yes"),
            ("9b. the guardian killed the check".to_owned(), self.step("step9b-check") == "gone"),
            ("9c. SIGINT mid-trial: exit 130".to_owned(), self.step("step9c-check-ran") == "yes" && self.step("step9c-exit") == "130"),
            ("9c. it says interrupted, nothing proven, and no verdict".to_owned(), self.step("step9c-says") == "found"),
            (
                format!("9c. no trial drop-in left, the unit under its own set (CapBnd {})", self.step("step9c-capbnd")),
                self.step("step9c-dropin") == "removed" && self.step("step9c-capbnd") == self.step("step9b-capbnd-before"),
            ),
            ("9c. the check died with capdisc's trial".to_owned(), self.step("step9c-check") == "gone"),
            ("11. minimize --grow --unit --apply exits 0".to_owned(), self.step("step11-exit") == "0"),
            (format!("11. one added step: two trials ({})", self.step("step11-trials")), self.step("step11-trials") == "2"),
            (
                format!(
                    "11. the service never held more than CAP_NET_BIND_SERVICE, no permissive drop-in (seen: {})",
                    self.step("step11-seen")
                ),
                {
                    let seen: Vec<&str> = self.step("step11-seen").split_whitespace().collect();
                    !seen.is_empty() && seen.iter().all(|set| *set == "0000000000000000" || *set == "0000000000000400")
                },
            ),
            (
                format!("11. bounding = ambient = CAP_NET_BIND_SERVICE, HTTP {}", self.step("step11-http")),
                self.step("step11-bounding") == "cap_net_bind_service"
                    && self.step("step11-ambient") == "cap_net_bind_service"
                    && self.step("step11-http") == "200",
            ),
            ("10. nginx answers HTTP 200 afterwards".to_owned(), self.step("step10-http-after") == "200"),
            (
                format!("11b. minimize --unit reload-kill.service ran every phase ({})", self.step("step11b-phases")),
                self.step("step11b-exit") == "0" && self.step("step11b-phases") == "start,reload,stop,start again",
            ),
            (
                format!("11b. CAP_KILL kept: its reload fails without it ({})", self.step("step11b-kill")),
                self.step("step11b-kill").starts_with("kept: the check failed without it: reload failed")
                    && self.step("step11b-kill").contains("denied CAP_KILL in kill"),
            ),
            (
                format!(
                    "11b. under the proven set ({}) systemctl reload succeeds and it serves (HTTP {})",
                    self.step("step11b-bounding"),
                    self.step("step11b-http")
                ),
                self.step("step11b-reload") == "0"
                    && self.step("step11b-bounding").split_whitespace().any(|cap| cap == "cap_kill")
                    && self.step("step11b-http") == "200",
            ),
            (
                format!("11b. CAP_KILL was seen in the reload phase only ({})", self.step("step11b-kill-phases")),
                self.step("step11b-kill-phases") == "reload",
            ),
            (
                format!("11c. CAP_CHOWN was seen in the exercise phase only ({})", self.step("step11c-chown-phases")),
                self.step("step11c-chown-phases") == "exercise",
            ),
            (
                format!("11d. proven without its reload, the set lacks CAP_KILL ({})", self.step("step11d-proven")),
                self.step("step11d-exit") == "0" && !self.step("step11d-proven").split_whitespace().any(|cap| cap == "CAP_KILL"),
            ),
            (
                format!(
                    "11d. the reload fails, and watch logs a hardening regression at priority 3 ({} ms after the reload): {}",
                    self.step("step11d-latency-ms"),
                    self.step("step11d-message")
                ),
                self.step("step11d-reload") != "0"
                    && self.step("step11d-journal") == "found"
                    && self.step("step11d-message").starts_with("hardening regression: reload-kill.service was denied CAP_KILL")
                    && self.step("step11d-stderr") == "1",
            ),
            ("11d. a --unit not loaded is waited for while the other is judged".to_owned(), self.step("step11d-waits") == "found"),
            (
                format!("11c. --exercise 'kill -USR1 $MAINPID' proves CAP_CHOWN for rotate.service ({})", self.step("step11c-proven")),
                self.step("step11c-exit") == "0"
                    && {
                        let mut proven: Vec<&str> = self.step("step11c-proven").split_whitespace().collect();
                        proven.sort_unstable();
                        proven == ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
                    }
                    && self.step("step11c-chown").contains("denied CAP_CHOWN in chown /var/log/capdisc-rotate.log"),
            ),
            (
                format!("12. capdisc-watch.service learned creep.service's baseline ({})", self.step("step12-learned")),
                self.step("step12-learned") == "no capabilities",
            ),
            (
                format!("12. the journal reports the creep under creep.service ({})", self.step("step12-journal")),
                self.step("step12-journal").starts_with("creep.service used CAP_KILL outside its baseline"),
            ),
            ("12. with capdisc's MESSAGE_ID and priority warning".to_owned(), self.step("step12-fields") == "found"),
            (format!("12. a restart of the watch keeps the counts ({})", self.step("step12-counts")), {
                let counts: Vec<u64> = self.step("step12-counts").split_whitespace().filter_map(|n| n.parse().ok()).collect();
                counts.len() == 2 && counts[0] > 0 && counts[0] == counts[1]
            }),
            (format!("12. the creep was announced once ({})", self.step("step12-announced")), self.step("step12-announced") == "1"),
            (
                format!("12. the watch service ran under its own set (CapBnd {})", self.step("step12-capbnd")),
                // CAP_BPF CAP_PERFMON CAP_SYSLOG, as packaging/capdisc-watch.service declares.
                self.step("step12-capbnd") == "000000c400000000",
            ),
            (format!("12. report: declared, used, held but unused, creep ({})", self.step("step12-report")), {
                let row: Vec<&str> = self.step("step12-report").split_whitespace().collect();
                row.len() == 6 && row[1..5] == ["kill", "kill", "-", "kill"]
            }),
        ];
        let (api_after, api_handfix) = (number("exposure-api-after"), number("exposure-api-handfix"));
        checks.push((
            format!(
                "9. exposure of the python service {} no worse than its hand-written fix ({})",
                self.step("exposure-api-after"),
                self.step("exposure-api-handfix")
            ),
            matches!((api_after, api_handfix), (Some(after), Some(handfix)) if after <= handfix),
        ));
        let (after, handfix) = (number("exposure-after"), number("exposure-handfix"));
        checks.push((
            format!(
                "5. exposure {} -> {}, no worse than the hand-written fix ({})",
                self.step("exposure-before"),
                self.step("exposure-after"),
                self.step("exposure-handfix")
            ),
            matches!((after, handfix), (Some(after), Some(handfix)) if after <= handfix),
        ));
        checks.push(("every unit: record --all wrote a per-unit profile".to_owned(), self.units().len() >= 3));
        checks
    }

    /// (unit, required set) from the host-wide recording.
    pub fn units(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut units = BTreeMap::new();
        for group in self.all.as_ref().and_then(|all| all["cgroups"].as_array()).into_iter().flatten() {
            if let Some(unit) = group["unit"].as_str() {
                let required = required_of(group);
                units.entry(unit.to_owned()).or_insert_with(BTreeSet::new).extend(required);
            }
        }
        units
    }

    /// The every-unit table: required (recorded) against declared (the shipped unit).
    pub fn unit_table(&self) -> String {
        let mut out =
            format!("{:<34} {:<44} {}\n", "unit", "required (capdisc record --all)", "declared CapabilityBoundingSet= / outside it");
        for (unit, required) in self.units() {
            let declared_text = self.declared.get(&unit).cloned().unwrap_or_default();
            let declared: BTreeSet<String> = declared_text.split_whitespace().map(str::to_ascii_uppercase).collect();
            let all = declared.len() >= 40;
            // Only services exec a program under CapabilityBoundingSet=; a scope (init.scope,
            // sessions) holds processes started elsewhere, so the comparison does not apply.
            let service = unit.ends_with(".service");
            let outside: Vec<&String> = required.iter().filter(|cap| service && !all && !declared.contains(*cap)).collect();
            let required_text =
                if required.is_empty() { "none".to_owned() } else { required.iter().cloned().collect::<Vec<_>>().join(" ") };
            let declared_summary = if !service {
                "n/a (not a service)".to_owned()
            } else if all {
                "all (not restricted)".to_owned()
            } else if declared.is_empty() {
                "(none)".to_owned()
            } else {
                declared.iter().cloned().collect::<Vec<_>>().join(" ")
            };
            let outside_text = if outside.is_empty() {
                String::new()
            } else {
                format!(" / OUTSIDE: {}", outside.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            };
            out.push_str(&format!("{unit:<34} {required_text:<44} {declared_summary}{outside_text}\n"));
        }
        out
    }

    pub fn steps_text(&self) -> String {
        self.steps.iter().map(|(key, value)| format!("  {key}: {value}\n")).collect()
    }
}
