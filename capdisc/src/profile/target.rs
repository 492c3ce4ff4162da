//! What a profile says it recorded (`target:`): the kind of target and what names it.
use serde::{Deserialize, Serialize};

/// What kind of target a profile recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Command,
    Pid,
    Cgroup,
    Unit,
    Container,
    /// Every task on the host (`--all`).
    All,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// command, pid, cgroup, unit, container or all.
    pub kind: TargetKind,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// A container target: its runtime, name and id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
}

impl TargetInfo {
    /// Whether the target is a rootless container (its capabilities are its user namespace's).
    pub fn rootless(&self) -> bool {
        self.container.as_ref().is_some_and(|container| container.rootless_user.is_some())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// podman or docker.
    pub runtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A rootless container: the user whose podman runs it. Its capabilities are its user
    /// namespace's (`--cap-add` governs those); a check against the host's user namespace
    /// (`host_userns` on a capability) is one no flag can grant it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootless_user: Option<String>,
}
