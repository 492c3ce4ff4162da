//! The documentation a newcomer finds their way in: README.md is the front door (under 300
//! lines) and links every page of docs/; every relative link in them points at a file that
//! exists; every subcommand a user can run is documented in a page.
use std::{
    fs,
    path::{Path, PathBuf},
};

use clap::CommandFactory;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds the crate").to_path_buf()
}

/// README.md and every page of docs/, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    let root = workspace();
    let mut paths = vec![root.join("README.md")];
    let mut pages: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    paths.extend(pages);
    paths.into_iter().map(|path| (path.clone(), fs::read_to_string(&path).expect("readable"))).collect()
}

/// The targets of a document's markdown links `[text](target)`.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            found.push(rest[..end].to_owned());
        }
    }
    found
}

#[test]
fn every_relative_link_points_at_a_file_that_exists() {
    let mut broken = Vec::new();
    for (path, text) in documents() {
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            if !path.parent().expect("in a directory").join(file).exists() {
                broken.push(format!("{}: {target}", path.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to files that do not exist:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_a_front_door_that_links_every_page() {
    let readme = fs::read_to_string(workspace().join("README.md")).expect("README.md");
    assert!(readme.lines().count() < 300, "README.md has {} lines; move reference text into docs/", readme.lines().count());
    let linked = links(&readme);
    for (path, _) in documents().into_iter().skip(1) {
        let name = format!("docs/{}", path.file_name().expect("a file").to_string_lossy());
        assert!(linked.iter().any(|target| target.split('#').next() == Some(name.as_str())), "README.md does not link {name}");
    }
    for command in ["cargo xtask demo", "cargo xtask test"] {
        assert!(readme.contains(command), "the quick start names `{command}`");
    }
}

#[test]
fn every_subcommand_is_documented() {
    let pages: String = documents().into_iter().skip(1).map(|(_, text)| text).collect();
    let command = capdisc::cli::Cli::command();
    let undocumented: Vec<String> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_owned())
        .filter(|name| !pages.contains(&format!("`capdisc {name}")) && !pages.contains(&format!("capdisc {name} ")))
        .collect();
    assert!(undocumented.is_empty(), "subcommands no page of docs/ documents: {}", undocumented.join(", "));
}
