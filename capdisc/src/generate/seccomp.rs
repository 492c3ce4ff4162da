//! A container's seccomp profile, in the JSON podman, docker, CRI-O and containerd read
//! (`--security-opt seccomp=FILE`, Kubernetes' `seccompProfile: Localhost`): every call fails
//! with EPERM but the allow-list a proof kept (`minimize --container NAME --sandbox`), and only
//! this machine's native architecture (as `SystemCallArchitectures=native`).
use serde_json::json;

use crate::{
    error::Error,
    profile::{confinement::SECCOMP, Decision, Profile},
};

/// The profile's text for the allow-list `calls`.
pub fn profile_text(calls: &[String]) -> String {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": native_architecture().into_iter().collect::<Vec<_>>(),
        "syscalls": [{ "names": calls, "action": "SCMP_ACT_ALLOW" }],
    });
    serde_json::to_string_pretty(&profile).unwrap_or_default() + "\n"
}

/// The allow-list a proof kept, if it kept one.
pub fn proven_calls(profile: &Profile) -> Option<&[String]> {
    let proof = profile.verification.as_ref()?;
    proof
        .container_sandbox
        .iter()
        .find(|setting| setting.setting == SECCOMP && setting.verdict == Decision::Kept)
        .map(|setting| setting.values.as_slice())
}

/// `generate --format seccomp`: the proven allow-list's profile, or why there is none.
pub fn render(profile: &Profile, source: &str) -> Result<String, Error> {
    match proven_calls(profile) {
        Some(calls) => Ok(profile_text(calls)),
        None => Err(Error::Usage(format!(
            "{source} holds no proven seccomp allow-list: prove one with `capdisc minimize --container NAME --sandbox` (a recording alone is not enough: only what a trial ran is written)"
        ))),
    }
}

/// libseccomp's name of the architecture capdisc was built for (none named: the runtime's own).
fn native_architecture() -> Option<&'static str> {
    Some(match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        "loongarch64" => "SCMP_ARCH_LOONGARCH64",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_allows_the_calls_and_refuses_the_rest_with_eperm() {
        let text = profile_text(&["execve".into(), "read".into()]);
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(parsed["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(parsed["defaultErrnoRet"], 1);
        assert_eq!(parsed["syscalls"][0]["names"], json!(["execve", "read"]));
        assert_eq!(parsed["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
        assert_eq!(parsed["architectures"].as_array().map(Vec::len), Some(1));
    }
}
