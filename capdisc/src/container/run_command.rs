//! A container runtime's run command line (`podman run ...`, `docker run ...`), read just far
//! enough to run it as capdisc's target: where its options end and its image begins, and the
//! few options capdisc sets itself. Everything else passes through as the user wrote it.
//!
//! Which options take no value is what the installed runtime's own `run --help` says
//! ([`Switches`]); any other `--name` or `-x` takes the next word unless written `--name=value`
//! (or `-xVALUE`). The image is the first word that is neither an option nor an option's value.
use std::{collections::BTreeSet, sync::OnceLock};

use super::{Engine, Runtime};
use crate::error::Error;

/// Long options of `run`/`create` that take no value, as podman 4.x/5.x and docker 24+ list
/// them: used only when the runtime cannot be asked (not installed here, or its help unread).
const KNOWN_LONG_SWITCHES: &[&str] = &[
    "detach",
    "disable-content-trust",
    "env-host",
    "help",
    "http-proxy",
    "init",
    "interactive",
    "no-healthcheck",
    "no-hosts",
    "oom-kill-disable",
    "passwd",
    "privileged",
    "publish-all",
    "quiet",
    "read-only",
    "read-only-tmpfs",
    "replace",
    "rm",
    "rmi",
    "rootfs",
    "sig-proxy",
    "tty",
    "use-api-socket",
];
/// Short options that take no value, likewise: -d -i -t -P -q (and clusters of them, `-it`).
const KNOWN_SHORT_SWITCHES: &str = "ditPq";

/// The options of a runtime's `run` that take no value (`--rm`, `-d`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switches {
    long: BTreeSet<String>,
    short: BTreeSet<char>,
}

impl Switches {
    /// The lists above: podman's and docker's, for when the runtime cannot be asked.
    pub fn known() -> Self {
        Self { long: KNOWN_LONG_SWITCHES.iter().map(|name| (*name).to_owned()).collect(), short: KNOWN_SHORT_SWITCHES.chars().collect() }
    }

    /// What `ENGINE run --help` says, asked once per engine; [`Switches::known`] when the
    /// runtime is not installed or its help is not what this reads.
    pub fn of(engine: Engine) -> &'static Self {
        static PODMAN: OnceLock<Switches> = OnceLock::new();
        static DOCKER: OnceLock<Switches> = OnceLock::new();
        let (cell, program) = match engine {
            Engine::Podman => (&PODMAN, "podman"),
            Engine::Docker => (&DOCKER, "docker"),
        };
        cell.get_or_init(|| {
            let help = std::process::Command::new(program).args(["run", "--help"]).stdin(std::process::Stdio::null()).output();
            help.ok().and_then(|output| Self::from_help(&String::from_utf8_lossy(&output.stdout))).unwrap_or_else(Self::known)
        })
    }

    /// The switches of a cobra help text (podman's and docker's): each option line is the
    /// option's names, a type word when it takes a value (`--name string`, `--attach stdin |
    /// stdout | stderr`), then at least two spaces and its description. None when the text
    /// lists no `--detach` switch (not a `run --help`).
    pub fn from_help(text: &str) -> Option<Self> {
        let mut switches = Self { long: BTreeSet::new(), short: BTreeSet::new() };
        for line in text.lines() {
            let trimmed = line.trim_start();
            if !trimmed.starts_with('-') {
                continue;
            }
            let names = trimmed.split("  ").next().unwrap_or_default();
            let (short, long) = match names.split_once(", ") {
                Some((short, long)) => (short.strip_prefix('-').filter(|flag| flag.chars().count() == 1), long),
                None => (None, names),
            };
            let Some(long) = long.strip_prefix("--") else { continue };
            if long.contains(' ') || long.is_empty() {
                continue;
            }
            switches.long.insert(long.to_owned());
            switches.short.extend(short.and_then(|flag| flag.chars().next()));
        }
        switches.long.contains("detach").then_some(switches)
    }

    /// Whether `--NAME` takes no value.
    pub fn long(&self, name: &str) -> bool {
        self.long.contains(name)
    }

    /// Whether `-FLAG` takes no value.
    pub fn short(&self, flag: char) -> bool {
        self.short.contains(&flag)
    }
}

/// Options capdisc refuses: each would make the run something a trial cannot reproduce or
/// confine (`--privileged` lifts every restriction, not only capabilities), or is capdisc's own.
const REFUSED: &[(&str, &str)] = &[
    (
        "privileged",
        "it lifts every restriction of the container, not only its capabilities; drop it and let the proof find the capabilities",
    ),
    ("cgroup-parent", "capdisc places the container under a cgroup of its own to record it from its first task"),
    ("cidfile", "capdisc sets it to learn the container's id"),
    ("pod", "a pod's containers share its cgroup; record the container alone"),
];

/// One option as written: its name without dashes, and its words; `short_cluster`: short
/// switches alone or clustered (`-d`, `-dit`), none taking a value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Opt {
    name: String,
    words: Vec<String>,
    short_cluster: bool,
}

/// How the container's capabilities are set for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapSetting {
    /// As the command says (a recording of the container as it is).
    AsWritten,
    /// Every capability (`--cap-add=all`): the recording a proof starts from.
    Every,
    /// Exactly this set (`--cap-drop=all --cap-add=...`): a trial.
    Exactly(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCommand {
    pub runtime: Runtime,
    program: String,
    global: Vec<String>,
    subcommand: Vec<String>,
    options: Vec<Opt>,
    /// The image and the command it runs.
    rest: Vec<String>,
}

/// Why `--user` does not apply to a container run.
pub const USER_NOT_FOR_CONTAINERS: &str = "--user applies to a command capdisc runs; a container's user is its run command's --user";

impl RunCommand {
    /// The command as a container run, when it is one: `podman`/`docker` (any path) with a `run`
    /// or `create` (or `container run`) subcommand, its options read as the installed runtime
    /// says they are ([`Switches::of`]). Err when it is one capdisc cannot take.
    pub fn parse(argv: &[String]) -> Result<Option<Self>, Error> {
        match argv.first().and_then(|program| Engine::of_program(program)) {
            Some(engine) => Self::parse_with(argv, Switches::of(engine)),
            None => Ok(None),
        }
    }

    /// [`RunCommand::parse`] with the given switches (the fuzzer's and the tests': no runtime asked).
    pub fn parse_with(argv: &[String], switches: &Switches) -> Result<Option<Self>, Error> {
        let Some(program) = argv.first() else { return Ok(None) };
        let Some(runtime) = Runtime::of_program(program) else { return Ok(None) };
        let Some(at) = argv.iter().skip(1).position(|word| word == "run" || word == "create").map(|at| at + 1) else {
            return Ok(None);
        };
        let sub_start = if argv[at - 1] == "container" && at >= 2 { at - 1 } else { at };
        let mut command = RunCommand {
            runtime,
            program: program.clone(),
            global: argv[1..sub_start].to_vec(),
            subcommand: argv[sub_start..=at].to_vec(),
            options: Vec::new(),
            rest: Vec::new(),
        };
        let mut words = argv[at + 1..].iter();
        while let Some(word) = words.next() {
            if word == "--" || !word.starts_with('-') || word == "-" {
                command.rest.push(word.clone());
                command.rest.extend(words.by_ref().cloned());
                break;
            }
            let opt = if let Some(long) = word.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or(long).to_owned();
                let mut taken = vec![word.clone()];
                if !long.contains('=') && !switches.long(&name) {
                    taken.push(words.next().ok_or_else(|| missing_value(word))?.clone());
                }
                Opt { name, words: taken, short_cluster: false }
            } else {
                let flags = &word[1..];
                let mut taken = vec![word.clone()];
                // `-it` is a cluster of switches; `-e` takes a value, `-eFOO=1` holds it.
                let cluster = !flags.is_empty() && flags.chars().all(|flag| switches.short(flag));
                if !cluster && flags.len() == 1 {
                    taken.push(words.next().ok_or_else(|| missing_value(word))?.clone());
                }
                Opt { name: flags.chars().take(1).collect(), short_cluster: cluster && taken.len() == 1, words: taken }
            };
            command.options.push(opt);
        }
        if command.rest.is_empty() {
            return Err(Error::Usage(format!("`{}` names no image; give the command that runs the container", argv.join(" "))));
        }
        for (name, why) in REFUSED {
            if command.options.iter().any(|opt| opt.name == *name) {
                return Err(Error::Usage(format!("the container's run command has --{name}: {why}")));
            }
        }
        Ok(Some(command))
    }

    /// The command run by `runtime` (the same engine; a rootless user's podman).
    pub fn run_by(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// The container's name, as the command sets it (`--name`).
    pub fn name(&self) -> Option<String> {
        self.values("name", None).pop()
    }

    /// Whether the container is removed when it exits (`--rm`).
    pub fn removes_itself(&self) -> bool {
        self.options.iter().any(|opt| opt.name == "rm" && opt.words.first().is_some_and(|word| !word.ends_with("=false")))
    }

    /// The command with `words` added as options, each one word (`--read-only`,
    /// `--security-opt=seccomp=FILE`): a sandboxing trial's.
    pub fn with_options(&self, words: &[String]) -> Self {
        let mut run = self.clone();
        for word in words {
            let name = word.trim_start_matches('-').split('=').next().unwrap_or_default().to_owned();
            run.options.push(Opt { name, words: vec![word.clone()], short_cluster: false });
        }
        run
    }

    /// The values of an option, in order: `--tmpfs /run/app`, `--tmpfs=/run/app`, `-v a:b`,
    /// `-va:b` (`short` its one-letter spelling, if any).
    pub fn values(&self, long: &str, short: Option<char>) -> Vec<String> {
        let short = short.map(String::from);
        self.options
            .iter()
            .filter(|opt| !opt.short_cluster && (opt.name == long || Some(&opt.name) == short.as_ref()))
            .filter_map(|opt| match opt.words.as_slice() {
                [_, value] => Some(value.clone()),
                [only] if only.starts_with("--") => only.split_once('=').map(|(_, value)| value.to_owned()),
                [only] => only.get(2..).filter(|value| !value.is_empty()).map(str::to_owned),
                _ => None,
            })
            .collect()
    }

    /// Where the run mounts something of its own in the container (`--volume`, `--tmpfs`,
    /// `--mount`): what stays writable under `--read-only`.
    pub fn mount_points(&self) -> Vec<String> {
        let mut points: Vec<String> = self
            .values("volume", Some('v'))
            .iter()
            .filter_map(|spec| spec.split(':').nth(1).map(str::to_owned))
            .chain(self.values("tmpfs", None).iter().map(|spec| spec.split(':').next().unwrap_or_default().to_owned()))
            .collect();
        for spec in self.values("mount", None) {
            let target = spec.split(',').find_map(|field| {
                let (key, value) = field.split_once('=')?;
                matches!(key, "destination" | "dst" | "target").then(|| value.to_owned())
            });
            points.extend(target);
        }
        points.retain(|point| point.starts_with('/'));
        points
    }

    /// Whether the run already sets `--read-only` (not `=false`).
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|opt| opt.name == "read-only" && !opt.words[0].ends_with("=false"))
    }

    /// Whether the run sets `--security-opt no-new-privileges` (docker's `:true` too).
    pub fn no_new_privileges(&self) -> bool {
        self.values("security-opt", None).iter().any(|value| value == "no-new-privileges" || value == "no-new-privileges:true")
    }

    /// The seccomp profile the run names (`--security-opt seccomp=...`), if any.
    pub fn seccomp(&self) -> Option<String> {
        self.values("security-opt", None)
            .iter()
            .find_map(|value| value.strip_prefix("seccomp").map(|rest| rest.trim_start_matches(['=', ':']).to_owned()))
    }

    /// The argv that runs it as capdisc's target: created under `cgroup_parent` (a cgroupfs
    /// path, podman told to manage cgroups itself), its id written to `cidfile`, named `name`
    /// when given (a trial's), with its capabilities set as `caps` says.
    pub fn argv(&self, caps: CapSetting, name: Option<&str>, cgroup_parent: &str, cidfile: &str) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        argv.extend(self.global.iter().cloned());
        if self.runtime.engine == Engine::Podman {
            argv.push("--cgroup-manager=cgroupfs".into());
        }
        argv.extend(self.subcommand.iter().cloned());
        argv.push(format!("--cgroup-parent={cgroup_parent}"));
        argv.push(format!("--cidfile={cidfile}"));
        argv.extend(self.options.iter().filter(|opt| !Self::replaced(opt, caps, name)).flat_map(|opt| opt.words.iter().cloned()));
        argv.extend(Self::set(caps, name));
        argv.extend(self.rest.iter().cloned());
        argv
    }

    /// The run as docker's create, the first half of a docker run: the container made (its id
    /// written to `cidfile`) but not started, so capdisc can make its cgroup before its first
    /// task (docker's cgroup parent must be a systemd slice under its systemd driver: no cgroup
    /// of capdisc's can hold it). What only a run takes (detaching, its signal proxy) is left
    /// to [`RunCommand::docker_start`].
    pub fn docker_create(&self, caps: CapSetting, name: Option<&str>, cidfile: &str) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        argv.extend(self.global.iter().cloned());
        argv.extend(self.subcommand.iter().take(self.subcommand.len() - 1).cloned());
        argv.push("create".into());
        argv.push(format!("--cidfile={cidfile}"));
        for opt in self.options.iter().filter(|opt| !Self::replaced(opt, caps, name)) {
            match opt.name.as_str() {
                "detach" | "sig-proxy" | "detach-keys" => {}
                _ if opt.short_cluster => {
                    let flags: String = opt.words[0][1..].chars().filter(|&flag| flag != 'd').collect();
                    if !flags.is_empty() {
                        argv.push(format!("-{flags}"));
                    }
                }
                _ => argv.extend(opt.words.iter().cloned()),
            }
        }
        argv.extend(Self::set(caps, name));
        argv.extend(self.rest.iter().cloned());
        argv
    }

    /// The second half: docker's start of the created container `id`, attached to it (and its
    /// input, with `-i`) unless the run detached, as `docker run` is.
    pub fn docker_start(&self, id: &str) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        argv.extend(self.global.iter().cloned());
        argv.extend(self.subcommand.iter().take(self.subcommand.len() - 1).cloned());
        argv.push("start".into());
        if !self.has_switch("detach", 'd') {
            argv.push("--attach".into());
            if self.has_switch("interactive", 'i') {
                argv.push("--interactive".into());
            }
        }
        argv.push(id.to_owned());
        argv
    }

    /// Whether a switch is on: `--long` (not `--long=false`) or `-s` alone or in a cluster.
    fn has_switch(&self, long: &str, short: char) -> bool {
        self.options
            .iter()
            .any(|opt| (opt.name == long && !opt.words[0].ends_with("=false")) || (opt.short_cluster && opt.words[0][1..].contains(short)))
    }

    /// Options a trial sets itself: the name (a trial's) and the capabilities (unless as written).
    fn replaced(opt: &Opt, caps: CapSetting, name: Option<&str>) -> bool {
        (name.is_some() && opt.name == "name") || (caps != CapSetting::AsWritten && (opt.name == "cap-add" || opt.name == "cap-drop"))
    }

    /// The name and capability options of a run: `name` when given, the set as `caps` says.
    fn set(caps: CapSetting, name: Option<&str>) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(name) = name {
            argv.push(format!("--name={name}"));
        }
        match caps {
            CapSetting::AsWritten => {}
            CapSetting::Every => argv.push("--cap-add=all".into()),
            CapSetting::Exactly(mask) => {
                argv.push("--cap-drop=all".into());
                // One option each: docker takes no list (`invalid CapAdd: unknown capability:
                // "CAP_CHOWN,NET_BIND_SERVICE"`, docker 26), podman takes either.
                argv.extend(
                    crate::caps::decode_mask(mask)
                        .into_iter()
                        .map(|cap| format!("--cap-add={}", crate::caps::name(cap).trim_start_matches("CAP_"))),
                );
            }
        }
        argv
    }

    /// The command as the user wrote it.
    pub fn describe(&self) -> String {
        let mut words = vec![self.program.clone()];
        words.extend(self.global.iter().cloned());
        words.extend(self.subcommand.iter().cloned());
        words.extend(self.options.iter().flat_map(|opt| opt.words.iter().cloned()));
        words.extend(self.rest.iter().cloned());
        words.join(" ")
    }
}

fn missing_value(option: &str) -> Error {
    Error::Usage(format!("the container's run command ends at {option}, which takes a value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn parse(text: &str) -> RunCommand {
        RunCommand::parse_with(&words(text), &Switches::known()).expect("valid").expect("a container run")
    }

    #[test]
    fn switches_are_read_from_the_runtimes_own_help() {
        // The shapes of podman 5's and docker 26's `run --help` (cobra), abridged.
        let podman = "Options:\n      --add-host host:ip                         Add a custom host-to-IP mapping (default [])\n  -a, --attach stdin | stdout | stderr           Attach to STDIN, STDOUT or STDERR\n  -d, --detach                                   Run container in background\n      --name string                              Assign a name to the container\n      --new-switch                               A switch this capdisc never heard of\n      --rm                                       Remove container after exit\n  -t, --tty                                      Allocate a pseudo-TTY\n";
        let switches = Switches::from_help(podman).expect("a run --help");
        assert_eq!(switches.long.iter().map(String::as_str).collect::<Vec<_>>(), ["detach", "new-switch", "rm", "tty"]);
        assert_eq!(switches.short.iter().collect::<String>(), "dt");
        let run = RunCommand::parse_with(&words("podman run --new-switch -a stdout --name web localhost/web serve"), &switches)
            .expect("valid")
            .expect("a container run");
        assert_eq!(run.rest, words("localhost/web serve"));
        assert_eq!(run.name().as_deref(), Some("web"));
        let docker = "Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nOptions:\n  -d, --detach                         Run container in background\n  -e, --env list                       Set environment variables\n      --rm                             Automatically remove the container\n";
        let switches = Switches::from_help(docker).expect("a run --help");
        assert_eq!(switches.long.iter().map(String::as_str).collect::<Vec<_>>(), ["detach", "rm"]);
        assert_eq!(Switches::from_help("podman: command not found"), None);
    }

    #[test]
    fn the_image_is_the_first_word_no_option_takes() {
        let run = parse("podman run -d --name web --network=host -u 65534:65534 -it --rm localhost/web httpd -f -p 444");
        assert_eq!(run.rest, words("localhost/web httpd -f -p 444"));
        assert_eq!(run.name().as_deref(), Some("web"));
        assert!(run.removes_itself());
        let run = parse("/usr/bin/docker container run --name=api -eMODE=1 -v /a:/b img --name not-an-option");
        assert_eq!(run.runtime, Runtime::DOCKER);
        assert_eq!(run.name().as_deref(), Some("api"));
        assert_eq!(run.rest, words("img --name not-an-option"));
        assert!(!run.removes_itself());
    }

    #[test]
    fn the_runs_own_mounts_and_confinement_are_read_from_its_options() {
        let run = parse(
            "podman run -d -v /srv/data:/data:Z --volume=/srv/logs:/logs --tmpfs /run/app --tmpfs=/cache:size=1m --mount type=bind,src=/a,dst=/b --security-opt seccomp=/etc/x.json --read-only localhost/web",
        );
        assert_eq!(run.mount_points(), ["/data", "/logs", "/run/app", "/cache", "/b"]);
        assert_eq!(run.seccomp().as_deref(), Some("/etc/x.json"));
        assert!(run.read_only());
        let plain = parse("podman run -d localhost/web");
        assert!(plain.mount_points().is_empty() && plain.seccomp().is_none() && !plain.read_only());
        let tried = plain.with_options(&["--read-only".into(), "--security-opt=seccomp=/run/p.json".into()]);
        assert!(tried.read_only());
        assert_eq!(tried.seccomp().as_deref(), Some("/run/p.json"));
        let argv = tried.argv(CapSetting::AsWritten, None, "/capdisc-1", "/tmp/cid");
        assert_eq!(argv[argv.len() - 3..], ["--read-only", "--security-opt=seccomp=/run/p.json", "localhost/web"]);
    }

    #[test]
    fn a_trial_replaces_the_capabilities_and_the_name_and_keeps_the_rest() {
        let run = parse("podman --log-level=info run --name web --cap-add NET_BIND_SERVICE --cap-drop=all --user 65534 img /start");
        let cap_chown = 1 << 0;
        let cap_net_bind_service = 1 << 10;
        let argv = run.argv(CapSetting::Exactly(cap_chown | cap_net_bind_service), Some("capdisc-7-c1"), "/capdisc-7-1", "/run/cid");
        assert_eq!(
            argv.join(" "),
            "podman --log-level=info --cgroup-manager=cgroupfs run --cgroup-parent=/capdisc-7-1 --cidfile=/run/cid --user 65534 --name=capdisc-7-c1 --cap-drop=all --cap-add=CHOWN --cap-add=NET_BIND_SERVICE img /start"
        );
        let argv = run.argv(CapSetting::AsWritten, None, "/p", "/c");
        assert!(argv.join(" ").contains("--name web --cap-add NET_BIND_SERVICE --cap-drop=all --user 65534 img /start"));
        assert!(run.argv(CapSetting::Every, None, "/p", "/c").join(" ").ends_with("--name web --user 65534 --cap-add=all img /start"));
        assert!(run.argv(CapSetting::Exactly(0), None, "/p", "/c").join(" ").ends_with("--cap-drop=all img /start"));
    }

    #[test]
    fn a_docker_run_is_made_by_create_and_started_as_the_run_would_be() {
        let run = parse("docker --log-level warn run -dit --rm --name web --sig-proxy=false --cap-add=NET_ADMIN --user 0 img /start -d");
        let create = run.docker_create(CapSetting::Exactly(1 << 10), Some("capdisc-7-3"), "/run/cid");
        assert_eq!(
            create.join(" "),
            "docker --log-level warn create --cidfile=/run/cid -it --rm --user 0 --name=capdisc-7-3 --cap-drop=all --cap-add=NET_BIND_SERVICE img /start -d"
        );
        // Detached: started and left to run; the command's own `-d` is the image's argument.
        assert_eq!(run.docker_start("abc").join(" "), "docker --log-level warn start abc");
        let run = parse("/usr/bin/docker container run -i --name api img");
        assert_eq!(
            run.docker_create(CapSetting::AsWritten, None, "/c").join(" "),
            "/usr/bin/docker container create --cidfile=/c -i --name api img"
        );
        assert_eq!(run.docker_start("abc").join(" "), "/usr/bin/docker container start --attach --interactive abc");
        let run = parse("docker run --detach=false -d img");
        assert_eq!(run.docker_create(CapSetting::Every, None, "/c").join(" "), "docker create --cidfile=/c --cap-add=all img");
        assert_eq!(run.docker_start("abc").join(" "), "docker start abc");
        assert_eq!(parse("docker run --detach=false img").docker_start("abc").join(" "), "docker start --attach abc");
    }

    #[test]
    fn what_is_not_a_container_run_is_left_alone_and_what_cannot_be_proven_is_refused() {
        assert_eq!(RunCommand::parse_with(&words("podman ps -a"), &Switches::known()).expect("fine"), None);
        assert_eq!(RunCommand::parse_with(&words("/usr/sbin/nginx -g daemon"), &Switches::known()).expect("fine"), None);
        let refused = |text: &str| RunCommand::parse_with(&words(text), &Switches::known()).expect_err("refused").to_string();
        assert!(refused("podman run --privileged img").contains("--privileged"));
        assert!(refused("docker run --cgroup-parent=/x img").contains("--cgroup-parent"));
        assert!(refused("podman run -d --name").contains("--name, which takes a value"));
        assert!(refused("podman run -d").contains("names no image"));
    }
}
