//! What a CLI's users expect besides `--help`: shell completions (`capdisc completions SHELL`,
//! through clap_complete) and man pages (`capdisc man`, through clap_mangen), both generated from
//! the same clap definitions as the parser, so they cannot drift from it. The main page carries
//! the profile schema, taken from docs/profile-schema.md (one source).
use crate::support::console;
use std::{io::Write, path::Path};

use clap::{Args, CommandFactory};

use super::Cli;
use crate::{error::Error, support::files};

/// The profile schema page (docs/profile-schema.md).
const SCHEMA_PAGE: &str = include_str!("../../../docs/profile-schema.md");

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

impl CompletionsArgs {
    pub fn run(self) -> Result<i32, Error> {
        let mut command = Cli::command();
        clap_complete::generate(self.shell, &mut command, "capdisc", &mut std::io::stdout());
        Ok(0)
    }
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write capdisc.1 and one capdisc-SUBCOMMAND.1 per subcommand into DIR (atomically)
    /// instead of printing capdisc.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

impl ManArgs {
    pub fn run(self) -> Result<i32, Error> {
        let command = Cli::command();
        let main = main_page(&command)?;
        let Some(dir) = self.dir else {
            std::io::stdout().write_all(&main).map_err(|err| Error::io("cannot print the man page", err))?;
            return Ok(0);
        };
        if !dir.is_dir() {
            return Err(Error::Usage(format!("{} is not a directory; create it or give another --dir", dir.display())));
        }
        files::write_atomic(&dir.join("capdisc.1"), &main)?;
        let mut written = 1;
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            let name = format!("capdisc-{}", sub.get_name());
            // A short-lived process: the page name lives as long as it.
            let page = render(&sub.clone().name(&*name.clone().leak()))?;
            files::write_atomic(&dir.join(format!("{name}.1")), &page)?;
            written += 1;
        }
        console::say!("{written} man page(s) written to {}", Path::new(&dir).display());
        Ok(0)
    }
}

fn render(command: &clap::Command) -> Result<Vec<u8>, Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page).map_err(|err| Error::io("cannot render the man page", err))?;
    Ok(page)
}

/// capdisc.1, with the profile schema appended as its own section.
fn main_page(command: &clap::Command) -> Result<Vec<u8>, Error> {
    let mut page = render(command)?;
    page.extend_from_slice(b".SH \"PROFILE SCHEMA\"\n.nf\n");
    for line in profile_schema().lines().filter(|line| !line.starts_with("```")) {
        // roff: a leading dot or quote would be read as a request; a backslash as an escape.
        let escaped = line.replace('\\', "\\e");
        let escaped = if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped };
        page.extend_from_slice(escaped.as_bytes());
        page.push(b'\n');
    }
    page.extend_from_slice(b".fi\n");
    Ok(page)
}

/// The "Profile schema" section of docs/profile-schema.md, without its heading.
pub fn profile_schema() -> &'static str {
    let start =
        SCHEMA_PAGE.find("## Profile schema").map(|at| at + SCHEMA_PAGE[at..].find('\n').unwrap_or(0) + 1).unwrap_or(SCHEMA_PAGE.len());
    let end = SCHEMA_PAGE[start..].find("\n## ").map(|at| start + at).unwrap_or(SCHEMA_PAGE.len());
    SCHEMA_PAGE[start..end].trim()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_comes_from_the_readme() {
        let schema = super::profile_schema();
        assert!(schema.contains("schema_version: 1") && schema.contains("verification:"), "{schema}");
        assert!(!schema.contains("## What capdisc cannot see"));
    }
}
