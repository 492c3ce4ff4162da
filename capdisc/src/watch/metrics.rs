//! The Prometheus side of `watch`: counters in a `prometheus-client` registry, served as
//! OpenMetrics text at `/metrics` by axum on the runtime capdisc already uses. Label
//! cardinality is bounded by the host: targets x at most 41 capabilities x 2 verdicts.
use crate::support::console;
use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{http::header, response::IntoResponse, routing::get, Router};
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::creep::Creep;
use crate::{
    error::Error,
    profile::{Losses, Profile},
};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    target: String,
    capability: String,
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegressionLabels {
    target: String,
    capability: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LostLabels {
    reason: &'static str,
}

/// The exported series. Counters only ever move forward: each update adds what a profile or
/// the loss counters gained since the last one.
pub struct Metrics {
    registry: Arc<Registry>,
    checks: Family<CheckLabels, Counter>,
    creep: Family<CheckLabels, Counter>,
    regressions: Family<RegressionLabels, Counter>,
    lost: Family<LostLabels, Counter>,
    noted: Family<LostLabels, Counter>,
    present: Family<TargetLabels, Gauge>,
    targets: Gauge,
    kernel_keys: Gauge,
    kernel_keys_max: Gauge,
    exported: HashMap<(&'static str, CheckLabels), u64>,
    exported_lost: HashMap<LostLabels, u64>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let checks = Family::<CheckLabels, Counter>::default();
        let creep = Family::<CheckLabels, Counter>::default();
        let regressions = Family::<RegressionLabels, Counter>::default();
        let lost = Family::<LostLabels, Counter>::default();
        let noted = Family::<LostLabels, Counter>::default();
        let present = Family::<TargetLabels, Gauge>::default();
        let targets = Gauge::default();
        let (kernel_keys, kernel_keys_max) = (Gauge::default(), Gauge::default());
        registry.register(
            "capdisc_capability_checks",
            "Capability checks made by a target, exactly counted in the kernel, by verdict (granted or denied)",
            checks.clone(),
        );
        registry.register(
            "capdisc_creep",
            "Audited checks of capabilities outside the target's baseline (privilege creep), by verdict",
            creep.clone(),
        );
        registry.register(
            "capdisc_hardening_regressions",
            "Denied, audited checks of capabilities outside a proven baseline: the hardened service lacks a capability it needs",
            regressions.clone(),
        );
        registry.register(
            "capdisc_lost",
            "What capdisc could not keep (checks lost to a full map or pairing; call-site samples, paths), by reason",
            lost.clone(),
        );
        registry.register(
            "capdisc_noted",
            "Counted, not lost: call sites beyond a key's 4 examples, checks before a spawned command's exec (skipped on purpose), by reason",
            noted.clone(),
        );
        registry.register("capdisc_targets", "Targets watched (units, cgroups)", targets.clone());
        registry.register(
            "capdisc_target_present",
            "Whether a named target (--unit, --cgroup) is there now (1) or waited for (0)",
            present.clone(),
        );
        registry.register(
            "capdisc_kernel_keys",
            "Distinct kinds of checks of live cgroups held in the kernel map (gone cgroups are folded out)",
            kernel_keys.clone(),
        );
        registry.register(
            "capdisc_kernel_keys_max",
            "Size of the kernel map (--max-keys); new kinds of checks beyond it are lost",
            kernel_keys_max.clone(),
        );
        Self {
            registry: Arc::new(registry),
            checks,
            creep,
            regressions,
            lost,
            noted,
            present,
            targets,
            kernel_keys,
            kernel_keys_max,
            exported: HashMap::new(),
            exported_lost: HashMap::new(),
        }
    }

    /// A target's checks per capability and verdict, from its profile (earlier runs included).
    pub fn update_target(&mut self, target: &str, profile: &Profile) {
        for cap in &profile.capabilities {
            for (verdict, total) in [("granted", cap.granted), ("denied", cap.denied)] {
                let labels = CheckLabels { target: target.to_owned(), capability: cap.name.clone(), verdict };
                let delta = advance(&mut self.exported, ("checks", labels.clone()), total);
                self.checks.get_or_create(&labels).inc_by(delta);
            }
        }
    }

    pub fn update_creep(&mut self, creep: &Creep) {
        let labels = CheckLabels { target: creep.target.clone(), capability: creep.capability.clone(), verdict: creep.verdict };
        let delta = advance(&mut self.exported, ("creep", labels.clone()), creep.checks);
        self.creep.get_or_create(&labels).inc_by(delta);
        if creep.regression {
            self.regressions.get_or_create(&RegressionLabels { target: labels.target, capability: labels.capability }).inc_by(delta);
        }
    }

    /// Host-wide losses (`capdisc_lost_total`) and notes (`capdisc_noted_total`) by reason,
    /// earlier runs included.
    pub fn update_lost(&mut self, losses: &Losses) {
        for (family, entries) in [(&self.lost, losses.lost_entries()), (&self.noted, losses.note_entries())] {
            for (reason, total) in entries {
                let labels = LostLabels { reason };
                let delta = advance(&mut self.exported_lost, labels.clone(), total);
                family.get_or_create(&labels).inc_by(delta);
            }
        }
    }

    pub fn set_present(&self, target: &str, present: bool) {
        self.present.get_or_create(&TargetLabels { target: target.to_owned() }).set(i64::from(present));
    }

    pub fn set_targets(&self, count: usize) {
        self.targets.set(count as i64);
    }

    pub fn set_kernel_keys(&self, held: usize, max: u32) {
        self.kernel_keys.set(held as i64);
        self.kernel_keys_max.set(i64::from(max));
    }

    /// Binds the listening socket now (so a busy port is an error at start, not later).
    pub async fn listen(&self, address: SocketAddr) -> Result<Server, Error> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|err| Error::input(format!("cannot listen on {address}"), err, "; choose another --listen HOST:PORT"))?;
        Ok(Server { listener, registry: self.registry.clone() })
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Records a new total; returns how much it moved forward (0 when it did not).
fn advance<K: std::hash::Hash + Eq>(exported: &mut HashMap<K, u64>, key: K, total: u64) -> u64 {
    let previous = exported.entry(key).or_insert(0);
    let delta = total.saturating_sub(*previous);
    *previous = (*previous).max(total);
    delta
}

pub struct Server {
    listener: tokio::net::TcpListener,
    registry: Arc<Registry>,
}

impl Server {
    pub fn address(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves `/metrics` until the runtime ends.
    pub fn spawn(self) {
        let registry = self.registry;
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut text = String::new();
                    match encode(&mut text, &registry) {
                        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
                        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n").into_response(),
                    }
                }
            }),
        );
        tokio::spawn(async move {
            if let Err(err) = axum::serve(self.listener, app).await {
                console::warning!("the metrics endpoint stopped: {err}");
            }
        });
    }
}
