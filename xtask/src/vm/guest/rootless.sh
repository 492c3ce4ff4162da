#!/bin/bash
# capdisc with rootless podman in the trixie guest (run by outputs.sh): a user's own podman
# (uid 1001, a lingering session: /run/user/1001, its systemd and bus), its containers in the
# user's user namespace, networked by slirp4netns (pasta sandboxes itself with pivot_root, which
# an initramfs root refuses) with :604 inside published on :8604. Lines starting with
# CAPDISC-ROOTLESS are read by `cargo xtask vm`; everything else is context.
exec > /dev/ttyS0 2>&1
set -u
MARK=CAPDISC-ROOTLESS LOG_MARK=CAPDISC-RLOG
. /usr/local/lib/capdisc/container-lib.sh
t_all=$(date +%s)
# slirp4netns needs the tun device (a module of the guest's kernel, carried in the image; no
# udev here to open it up to users).
insmod /usr/local/lib/capdisc/tun.ko && chmod 666 /dev/net/tun
useradd -m -u 1001 -s /bin/bash alice
loginctl enable-linger alice
wait_secs 120 test -S /run/user/1001/bus
as_alice() { (cd /home/alice && runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1001 HOME=/home/alice "$@"); }
# A check through the port forwarder: rootlessport accepts on :8604 before the service is up,
# so the check reads the service's greeting; the forwarder connects to the container's address,
# so the service listens on every address (WORKLOAD_ADDR).
check='capdisc-workload greeted 8604'
greets() { capdisc-workload greeted "${1:-8604}"; }
running() { [ "$(as_alice podman inspect --format '{{.State.Running}}' web 2>/dev/null)" = true ]; }
# Trial containers, capdisc cgroups, and the directories alice's podman wrote their ids in.
leftovers() { echo "$(as_alice podman ps -a --format '{{.Names}}' | grep -c '^capdisc-') $(ls -d /sys/fs/cgroup/capdisc-* 2>/dev/null | wc -l) $(ls -d /run/capdisc/containers/capdisc-* 2>/dev/null | wc -l)"; }
say begin "$(as_alice podman --version)" "$(as_alice podman info --format '{{.Host.Security.Rootless}} {{.Host.CgroupManager}}')"

web_image podman as_alice
say import $?
as_alice podman run -d -q --name web --network=slirp4netns -p 8604:604 -e WORKLOAD_ADDR=0.0.0.0 --user 65534:65534 --cap-add=all --tmpfs /run/app localhost/web > /dev/null
wait_secs 120 greets && say web-serves yes

# 1. Attached, during a `podman exec` that chowns: the runtime's joining is set-up, its
# attempts against the host's namespaces too (no set changes them); the chown is the need.
capdisc record --container web --rootless alice -o /tmp/r1.yaml --duration 40 > /tmp/r1.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/r1.log
as_alice podman exec web /workload chown /tmp 65534
kill -INT $rec; wait $rec
say r1-exit $?
say r1-required "$(required /tmp/r1.yaml)"
say r1-denied "$(class_caps /tmp/r1.yaml denied)"
say r1-user "$(sed -n 's/^ *rootless_user: //p' /tmp/r1.yaml)"
grep -q "^  reason: .*in the container'*s user namespace" /tmp/r1.yaml && say r1-namespace named
show r1 /tmp/r1.log

# 2. From its start: its scope made by capdisc and handed to alice before her systemd starts it.
capdisc record --container web --rootless alice --restart -o /tmp/r2.yaml --duration 60 > /tmp/r2.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/r2.log
wait_secs 120 greets && say r2-serves yes
kill -INT $rec; wait $rec
say r2-exit $?
say r2-required "$(required /tmp/r2.yaml)"
running && say r2-running-after yes
show r2 /tmp/r2.log

# 3. A run command, as alice, recorded from its first task: under a cgroup delegated to her.
capdisc record --rootless alice -o /tmp/r3.yaml --duration 60 -- podman run --rm --network=slirp4netns -p 8605:604 -e WORKLOAD_ADDR=0.0.0.0 --user 65534:65534 --cap-add=all --tmpfs /run/app localhost/web > /tmp/r3.log 2>&1 &
rec=$!
wait_secs 120 greets 8605 && say r3-serves yes
kill -INT $rec; wait $rec
say r3-exit $?
say r3-required "$(required /tmp/r3.yaml)"
say r3-leftovers "$(leftovers)"
show r3 /tmp/r3.log

# 4. The proof, each trial re-running web's create command as alice under one set.
t0=$(date +%s)
capdisc minimize --container web --rootless alice --check "$check" --timeout 60 -o /tmp/r4.yaml > /tmp/r4.log 2>&1
say r4-exit $? $(( $(date +%s) - t0 ))
say r4-required "$(required /tmp/r4.yaml)"
grep -q 'CAP_CHOWN .*kept .*denied CAP_CHOWN in [a-z]*chown .*by workload' /tmp/r4.log && say r4-chown-denial named
running && wait_secs 120 greets && say r4-web-after serves
say r4-leftovers "$(leftovers)"
show r4 /tmp/r4.log

# 5. The generated flags, run by alice's podman: it serves and holds exactly that set.
flags=$(capdisc generate /tmp/r4.yaml --format podman | tail -n 1)
say r5-flags "$flags"
as_alice podman stop -t 2 web > /dev/null
as_alice podman run -d -q --name web-gen --network=slirp4netns -p 8604:604 -e WORKLOAD_ADDR=0.0.0.0 --user 65534:65534 --tmpfs /run/app $flags localhost/web > /dev/null
wait_secs 120 greets && say r5-serves yes
pid=$(as_alice podman inspect --format '{{.State.Pid}}' web-gen)
say r5-sets "$(caps_of "$pid" CapEff) $(caps_of "$pid" CapBnd) $(caps_of "$pid" CapAmb)"
as_alice podman rm -f -t 2 web-gen > /dev/null
as_alice podman start web > /dev/null

# 6. capdisc SIGKILLed mid-proof: the guardian removes alice's trial container, starts web.
capdisc minimize --container web --rootless alice --check "$check" --timeout 45 -o /tmp/r6.yaml > /tmp/r6.log 2>&1 &
proof=$!
wait_secs 300 sh -c "runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1001 podman ps --format '{{.Names}}' | grep -q '^capdisc-'"
kill -KILL $proof
wait_secs 120 sh -c "[ \"\$(cd /home/alice && runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1001 podman ps -a --format '{{.Names}}' | grep -c '^capdisc-')\" = 0 ]"
wait_secs 120 running && wait_secs 120 greets && say r6-web-after serves
say r6-leftovers "$(leftovers)"
journalctl --no-pager -o cat | grep 'capdisc guardian' | tail -n 2 | show r6 /dev/stdin

# 7. trace takes the same target: the exec'd chown, live, in the container's user namespace.
# (To uid 0, not the caller's own: /tmp is 65534's since step 1, and a chown to one's own uid of
# what one owns makes no capability check at all.)
capdisc trace --json --container web --rootless alice --duration 60 > /tmp/r7.json 2> /tmp/r7.log &
tr=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/r7.log
as_alice podman exec web /workload chown /tmp 0
say r7-exec $?
kill -INT $tr; wait $tr
grep '"cap_name":"CAP_CHOWN"' /tmp/r7.json | grep '"comm":"workload"' | grep '"verdict":"granted"' | grep -q '"foreign_userns":true' && say r7-chown seen
show r7 /tmp/r7.log

# 8. On the host's network a rootless container binds :605 against the host's user namespace:
# denied whatever its set, and the profile says no flag can grant it.
as_alice podman run -d -q --name webh --network=host --user 65534:65534 --cap-add=all --tmpfs /run/app localhost/web /workload chown-then-serve /run/app 65534 605 > /dev/null
capdisc record --container webh --rootless alice --restart -o /tmp/r8.yaml --duration 20 > /tmp/r8.log 2>&1
say r8-exit $?
say r8-denied "$(class_caps /tmp/r8.yaml denied)"
grep -q "^  reason: 'denied .* against the host'*s user namespace, where a rootless container holds no capability: no --cap-add grants it" /tmp/r8.yaml && say r8-host-named yes
show r8 /tmp/r8.log
as_alice podman rm -af -t 2 > /dev/null
say time $(( $(date +%s) - t_all ))
say done
