#!/bin/bash
# capdisc with a real docker daemon in the trixie guest (run by outputs.sh): Debian's docker.io
# under systemd with its default cgroup driver (systemd, on cgroup v2), the vfs storage driver
# and no bridge (the guest's kernel carries neither overlay nor bridge modules), runc told not
# to pivot_root (DOCKER_RAMDISK: an initramfs root cannot be pivoted). Lines starting with
# CAPDISC-DOCKER are read by `cargo xtask vm`; everything else is context.
exec > /dev/ttyS0 2>&1
set -u
MARK=CAPDISC-DOCKER LOG_MARK=CAPDISC-DLOG
. /usr/local/lib/capdisc/container-lib.sh
t_all=$(date +%s)
systemctl start docker
wait_secs 120 docker info
say begin "$(docker version --format '{{.Server.Version}}')" "$(docker info --format '{{.CgroupDriver}} {{.Driver}}')" "$(runc --version | head -n 1)"
running() { [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
# Trial containers, and docker scopes without a container (a cgroup capdisc made and left).
leftovers() {
    scopes=0
    for scope in /sys/fs/cgroup/system.slice/docker-*.scope; do
        [ -d "$scope" ] || continue
        id=${scope##*/docker-}
        docker inspect "${id%.scope}" > /dev/null 2>&1 || scopes=$((scopes + 1))
    done
    echo "$(docker ps -a --format '{{.Names}}' | grep -c '^capdisc-') $scopes"
}

web_image docker
say import $?
# As root in the container: docker gives a non-root container user no ambient set (step d5).
docker run -d --name web --network=host --cap-add=all --tmpfs /run/app localhost/web > /dev/null
wait_secs 120 serves && say web-serves yes
say web-cgroup "$(sed -n 's/^0:://p' "/proc/$(docker inspect --format '{{.State.Pid}}' web)/cgroup" | sed 's/docker-[0-9a-f]*/docker-ID/')"

# 1. Attached, during a `docker exec` that chowns: runc's joining is set-up, the chown the need.
capdisc record --container web --runtime docker -o /tmp/d1.yaml --duration 40 > /tmp/d1.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/d1.log
docker exec web /workload chown /tmp 65534
say d1-exec $?
kill -INT $rec; wait $rec
say d1-required "$(class_caps /tmp/d1.yaml required)"
say d1-setup "$(class_caps /tmp/d1.yaml setup)"
show d1 /tmp/d1.log

# 2. From its start: stopped, its scope made by capdisc, started by docker.
capdisc record --container web --runtime docker --restart -o /tmp/d2.yaml --duration 60 > /tmp/d2.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/d2.log
wait_secs 120 serves
kill -INT $rec; wait $rec
say d2-required "$(class_caps /tmp/d2.yaml required)"
say d2-setup "$(class_caps /tmp/d2.yaml setup)"
running web && say d2-running yes
show d2 /tmp/d2.log
# docker keeps no create command: a proof of a named container needs its run command.
capdisc minimize --container web --runtime docker --check "$check" -o /tmp/d2m.yaml > /tmp/d2m.log 2>&1
say d2-minimize-exit $?
grep -q 'docker keeps no record of the command that created container web' /tmp/d2m.log && say d2-minimize-says yes
[ -e /tmp/d2m.yaml ] || say d2-minimize-nothing-written yes
docker rm -f web > /dev/null
wait_secs 60 sh -c '! bash -c ": < /dev/tcp/127.0.0.1/604"'

# 3. The proof of a run command: each trial created, its scope made, started, removed.
t0=$(date +%s)
capdisc minimize --check "$check" --timeout 45 -o /tmp/d3.yaml -- docker run -d --name webm --network=host --tmpfs /run/app localhost/web > /tmp/d3.log 2>&1
say d3-exit $? $(( $(date +%s) - t0 ))
say d3-required "$(required /tmp/d3.yaml)"
grep -q 'denied CAP_CHOWN in chown /run/app (EPERM' /tmp/d3.log && say d3-denial-named yes
say d3-leftovers "$(leftovers)"
show d3 /tmp/d3.log

# 4. The generated flags, run by docker: it serves, and holds exactly the proven set.
flags=$(capdisc generate /tmp/d3.yaml --format docker | grep -v '^#')
say d4-flags $flags
docker run -d --name webf --network=host $flags --tmpfs /run/app localhost/web > /dev/null
wait_secs 120 serves && say d4-serves yes
pid=$(docker inspect --format '{{.State.Pid}}' webf)
say d4-sets "$(caps_of "$pid" CapEff) $(caps_of "$pid" CapBnd) $(caps_of "$pid" CapAmb)"
docker rm -f webf > /dev/null

# 5. What docker gives a non-root container user with the same flags (measured: what a drop of
# the container's root costs under docker).
docker run -d --name webu --network=host --user 65534:65534 $flags localhost/web /workload wait-for /never noop > /dev/null
wait_secs 60 running webu
pid=$(docker inspect --format '{{.State.Pid}}' webu)
say d5-sets "$(caps_of "$pid" CapEff) $(caps_of "$pid" CapBnd) $(caps_of "$pid" CapAmb)"
docker rm -f webu > /dev/null

# 6. SIGKILL mid-proof: the guardian removes the trial container and its scope.
capdisc minimize --check "$check" --timeout 45 -o /tmp/d6.yaml -- docker run -d --name webk --network=host --tmpfs /run/app localhost/web > /tmp/d6.log 2>&1 &
proof=$!
wait_secs 180 sh -c 'docker ps --format "{{.Names}}" | grep -q "^capdisc-"'
kill -KILL $proof
wait $proof 2> /dev/null
wait_secs 60 sh -c '[ "$(docker ps -a --format "{{.Names}}" | grep -c "^capdisc-")" = 0 ]'
say d6-leftovers "$(leftovers)"
journalctl --no-pager -o cat | grep 'capdisc guardian' | tail -n 2 | show d6 /dev/stdin
[ -e /tmp/d6.yaml ] || say d6-nothing-written yes
docker ps -aq | xargs -r docker rm -f > /dev/null 2>&1

# 7. The daemon on the cgroupfs driver, its containers under /ops (daemon.json's cgroup-parent):
# a run's container starts in /ops/ID, made first.
sed -i 's/^{/{"exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "\/ops", /' /etc/docker/daemon.json
systemctl restart docker
wait_secs 120 sh -c '[ "$(docker info --format "{{.CgroupDriver}}")" = cgroupfs ]' && say d7-driver cgroupfs
capdisc record -o /tmp/d7.yaml --duration 90 -- docker run --rm --network=host --tmpfs /run/app localhost/web > /tmp/d7.log 2>&1 &
rec=$!
wait_secs 120 serves
kill -INT $rec; wait $rec
say d7-required "$(class_caps /tmp/d7.yaml required)"
grep -q '^capdisc: recording container run: .* (cgroup /ops/[0-9a-f]*)$' /tmp/d7.log && say d7-cgroup /ops/ID
wait_secs 60 sh -c '[ -z "$(docker ps -aq)" ]' && say d7-removed yes
show d7 /tmp/d7.log

# 8. A cgroup parent capdisc cannot read (dockerd's command line): the recording stops with one
# line, no profile is written and no container is left.
sed -i 's/"cgroup-parent": "\/ops", //' /etc/docker/daemon.json
printf '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --cgroup-parent=/elsewhere\n' > /etc/systemd/system/docker.service.d/elsewhere.conf
systemctl daemon-reload
systemctl restart docker
wait_secs 120 docker info
timeout 120 capdisc record -o /tmp/d8.yaml --duration 90 -- docker run --rm --network=host --tmpfs /run/app localhost/web > /tmp/d8.log 2>&1
say d8-exit $?
grep -q '^capdisc: error: docker started the container in /elsewhere/[0-9a-f]*, not in /docker/[0-9a-f]* where capdisc records it' /tmp/d8.log && say d8-says yes
[ -e /tmp/d8.yaml ] || say d8-nothing-written yes
wait_secs 60 sh -c '[ -z "$(docker ps -aq)" ]' && say d8-removed yes
show d8 /tmp/d8.log
rm /etc/systemd/system/docker.service.d/elsewhere.conf
systemctl daemon-reload
say time $(( $(date +%s) - t_all ))
say done
