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

/// The page that documents each subcommand.
const PAGES: &[(&str, &str)] = &[
    ("record", "docs/recording.md"),
    ("trace", "docs/trace.md"),
    ("watch", "docs/watch.md"),
    ("report", "docs/watch.md"),
    ("verify", "docs/proving.md"),
    ("minimize", "docs/proving.md"),
    ("try", "docs/proving.md"),
    ("generate", "docs/hardening.md"),
    ("apply", "docs/hardening.md"),
    ("lint", "docs/hardening.md"),
    ("status", "docs/hardening.md"),
    ("decode", "docs/hardening.md"),
    ("diff", "docs/hardening.md"),
    ("merge", "docs/hardening.md"),
    ("restore", "docs/hardening.md"),
    ("completions", "README.md"),
    ("man", "README.md"),
];

/// Every option of every subcommand's `--help` is named in its page, as `--long` (or `-s` for
/// a short-only one), so the pages and the program stay in step (a page showed `--cgroup
/// PATH...` where the flag is repeated, and left out `--all`, `--permissive`, `--backend`...).
#[test]
fn every_option_is_named_in_its_page() {
    let command = capdisc::cli::Cli::command();
    let mut missing = Vec::new();
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = sub.get_name();
        let page = PAGES.iter().find(|(command, _)| *command == name).map(|(_, page)| *page);
        let Some(page) = page else {
            missing.push(format!("{name}: no page in PAGES"));
            continue;
        };
        let text = fs::read_to_string(workspace().join(page)).expect("page");
        for arg in sub.get_arguments().filter(|arg| !arg.is_hide_set()) {
            let flags: Vec<String> = arg
                .get_long()
                .map(|long| format!("--{long}"))
                .into_iter()
                .chain(arg.get_short().map(|short| format!("-{short}")))
                .collect();
            if flags.is_empty() || flags.iter().any(|flag| ["--help", "--version"].contains(&flag.as_str())) {
                continue;
            }
            let is_named = |flag: &String| {
                text.match_indices(flag.as_str()).any(|(at, _)| {
                    let before = text[..at].chars().next_back();
                    let next = text[at + flag.len()..].chars().next();
                    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
            };
            if !flags.iter().any(is_named) {
                missing.push(format!("{page}: capdisc {name} {}", flags.join(" / ")));
            }
        }
    }
    assert!(missing.is_empty(), "options their page does not name:\n{}", missing.join("\n"));
}

/// A flag that may be given several times is written `--flag X`, repeated, never `--flag X...`
/// (clap takes one value per flag: `--cgroup A B` makes B the command).
#[test]
fn no_page_shows_a_repeatable_flag_as_a_list() {
    let command = capdisc::cli::Cli::command();
    let mut wrong = Vec::new();
    for (path, text) in documents() {
        for sub in command.get_subcommands() {
            for arg in sub.get_arguments() {
                let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else { continue };
                let shown = format!("--{long} {}...", names.first().map(|name| name.as_str()).unwrap_or_default());
                if text.contains(&shown) {
                    wrong.push(format!("{}: {shown}", path.display()));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "repeatable flags shown as lists:\n{}", wrong.join("\n"));
}

/// README.md's exit status is the program's, word for word (`--help` and `capdisc(1)` print
/// the same constant).
#[test]
fn the_readme_gives_the_programs_exit_status() {
    let readme = fs::read_to_string(workspace().join("README.md")).expect("README.md");
    assert!(
        readme.contains(capdisc::cli::EXIT_CODES),
        "README.md's exit status differs from capdisc::cli::EXIT_CODES:\n{}",
        capdisc::cli::EXIT_CODES
    );
}
