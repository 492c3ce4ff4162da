//! Builds the kernel programs (`capdisc-ebpf`) with aya-build and leaves the object in OUT_DIR,
//! where `src/probe/object.rs` embeds it. Needs nightly with rust-src and bpf-linker
//! (`cargo xtask setup` installs both).
use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata failed")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|package| package.name.as_str() == "capdisc-ebpf")
        .ok_or_else(|| anyhow!("the capdisc-ebpf package is missing from the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("capdisc-ebpf has no manifest directory"))?;
    aya_build::build_ebpf(
        [aya_build::Package { name: ebpf.name.as_str(), root_dir: root_dir.as_str(), ..Default::default() }],
        aya_build::Toolchain::default(),
    )
}
