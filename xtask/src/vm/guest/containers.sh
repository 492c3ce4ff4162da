#!/bin/sh
# capdisc with a container runtime (podman, crun) in the systemd guest (run by the story, or
# alone with `cargo xtask vm --containers-only`). Lines starting with CAPDISC- are read by
# `cargo xtask vm`; everything else is context.
exec > /dev/ttyS0 2>&1
set -u
MARK=CAPDISC-CONTAINER LOG_MARK=CAPDISC-CLOG
. /usr/local/lib/capdisc/container-lib.sh
# Capabilities a profile puts down to the container runtime's set-up.
setup_caps() { awk '/^- name: /{name=$3} /^  reason: .*container runtime/{print name}' "$1" | sort | paste -sd, -; }
running() { [ "$(podman inspect --format '{{.State.Running}}' web 2>/dev/null)" = true ]; }
leftovers() { echo "$(podman ps -a --format '{{.Names}}' | grep -c '^capdisc-') $(ls -d /sys/fs/cgroup/capdisc-* 2>/dev/null | wc -l)"; }
t_all=$(date +%s)
say begin "$(podman --version)" "$(crun --version | head -n 1)"

web_image podman
say import $?
# The production container, hardened the usual way: every capability, as nobody.
podman run -d -q --name web --network=host --user 65534:65534 --cap-add=all --tmpfs /run/app localhost/web > /dev/null
wait_secs 120 serves && say web-serves yes

# 1. Attached to the running container: a `podman exec` that chowns. The runtime's work to
# join the container (namespaces, credentials, capset) is set-up; the exec'd chown is the need.
capdisc record --container web -o /tmp/c1.yaml --duration 40 > /tmp/c1.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/c1.log
podman exec web /workload chown /tmp 65534
say c1-exec $?
kill -INT $rec; wait $rec
say c1-exit $?
say c1-required "$(class_caps /tmp/c1.yaml required)"
# Unproven, for a container whose user is not root (the runtime's own uid-0 set-up aside):
# generate leaves out the root-equivalent CAP_CHOWN, as for a non-root service.
say c1-generated "$(required /tmp/c1.yaml)"
say c1-setup "$(setup_caps /tmp/c1.yaml)"
show c1 /tmp/c1.log

# 2. From its start: stopped, its cgroup made first, started again by podman.
capdisc record --container web --restart -o /tmp/c2.yaml --duration 60 > /tmp/c2.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/c2.log
wait_secs 120 serves && say c2-serves yes
kill -INT $rec; wait $rec
say c2-exit $?
say c2-required "$(class_caps /tmp/c2.yaml required)"
say c2-setup "$(setup_caps /tmp/c2.yaml)"
running && say c2-running-after yes
show c2 /tmp/c2.log

# 2b. capdisc SIGKILLed while the container is stopped for its restart (capdisc loads its
# programs before starting it again): its guardian starts the container again.
capdisc record --container web --restart -o /tmp/c2b.yaml --duration 60 > /tmp/c2b.log 2>&1 &
rec=$!
wait_secs 120 sh -c "! [ \"\$(podman inspect --format '{{.State.Running}}' web)\" = true ]" && say c2b-stopped yes
kill -KILL $rec
wait $rec
wait_secs 120 running && wait_secs 120 serves && say c2b-web-after serves
journalctl --no-pager -o cat | grep 'capdisc guardian' | tail -n 2 | show c2b /dev/stdin

# 3. A run command recorded from its first task (not the podman client): a narrower variant
# that only serves (no chown), used below as the set that must fail.
t0=$(date +%s)
capdisc record -o /tmp/c3.yaml --duration 45 -- podman run --rm --network=host --user 65534:65534 --cap-add=all localhost/web /workload serve 605 > /tmp/c3.log 2>&1
say c3-exit $? $(( $(date +%s) - t0 ))
say c3-required "$(class_caps /tmp/c3.yaml required)"
show c3 /tmp/c3.log

# 4. The proof: every trial re-runs web's own create command under one set, as a container of
# capdisc's own, while web is stopped; web is started again after.
t0=$(date +%s)
capdisc minimize --container web --check "$check" --timeout 45 -o /tmp/c4.yaml > /tmp/c4.log 2>&1
say c4-exit $? $(( $(date +%s) - t0 ))
say c4-required "$(required /tmp/c4.yaml)"
grep -q 'CAP_CHOWN .*kept .*denied CAP_CHOWN in [a-z]*chown .*by workload' /tmp/c4.log && say c4-chown-denial named
running && wait_secs 120 serves && say c4-web-after serves
say c4-leftovers "$(leftovers)"
show c4 /tmp/c4.log

# 5. The generated flags, run by podman: the service works and holds exactly that set.
flags=$(capdisc generate /tmp/c4.yaml --format podman | tail -n 1)
say c5-flags "$flags"
podman stop -t 2 web > /dev/null
podman run -d -q --name web-gen --network=host --user 65534:65534 --tmpfs /run/app $flags localhost/web > /dev/null
wait_secs 120 serves && say c5-serves yes
pid=$(podman inspect --format '{{.State.Pid}}' web-gen)
say c5-sets "$(caps_of "$pid" CapEff) $(caps_of "$pid" CapBnd) $(caps_of "$pid" CapAmb)"
podman rm -f web-gen > /dev/null
podman start web > /dev/null

# 6. A narrower set fails, with the denial named: the serve-only profile against web.
capdisc verify /tmp/c3.yaml --container web --check "$check" --timeout 60 > /tmp/c6.log 2>&1
say c6-exit $?
grep -q 'denied: CAP_CHOWN in [a-z]*chown .*by workload' /tmp/c6.log && say c6-denial named
show c6 /tmp/c6.log

# 7. capdisc killed in the middle of a proof: its guardian removes the trial container and
# starts web again.
capdisc minimize --container web --check "$check" --timeout 45 -o /tmp/c7.yaml > /tmp/c7.log 2>&1 &
proof=$!
wait_secs 300 sh -c "podman ps --format '{{.Names}}' | grep -q '^capdisc-'"
kill -KILL $proof
wait_secs 120 sh -c "[ \"\$(podman ps -a --format '{{.Names}}' | grep -c '^capdisc-')\" = 0 ]"
wait_secs 120 running && wait_secs 120 serves && say c7-web-after serves
say c7-leftovers "$(leftovers)"
journalctl --no-pager -o cat | grep 'capdisc guardian' | show c7 /dev/stdin
# Nothing of these steps outlives them (the story's later steps, and the guest's poweroff).
podman rm -af -t 2 > /dev/null
say time $(( $(date +%s) - t_all ))
