//! Builds the kernel programs (`capdisc-ebpf`) with aya-build and leaves the object in OUT_DIR,
//! where `src/probe/object.rs` embeds it, with the nightly toolchain pinned in
//! `capdisc-ebpf/nightly-toolchain` (the one place the pin lives; `cargo xtask setup` reads it
//! too and installs that toolchain with rust-src, and bpf-linker against its LLVM).
use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new().no_deps().exec().context("cargo metadata failed")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|package| package.name.as_str() == "capdisc-ebpf")
        .ok_or_else(|| anyhow!("the capdisc-ebpf package is missing from the workspace"))?;
    let root_dir = ebpf.manifest_path.parent().ok_or_else(|| anyhow!("capdisc-ebpf has no manifest directory"))?;
    let pin_path = root_dir.join("nightly-toolchain");
    println!("cargo:rerun-if-changed={pin_path}");
    let pin = std::fs::read_to_string(&pin_path).with_context(|| format!("cannot read the toolchain pin {pin_path}"))?;
    aya_build::build_ebpf(
        [aya_build::Package { name: ebpf.name.as_str(), root_dir: root_dir.as_str(), ..Default::default() }],
        aya_build::Toolchain::Custom(pin.trim()),
    )
}
