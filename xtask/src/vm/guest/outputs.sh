#!/bin/sh
# The container outputs of `capdisc generate`, run by the tools that read them, in a trixie guest
# (podman 5 with Quadlet, podman-compose, `podman kube play`): each must start the service, which
# must serve and hold exactly the proven set. Lines starting with CAPDISC- are read by `cargo
# xtask vm`; everything else is context.
exec > /dev/ttyS0 2>&1
set -u
MARK=CAPDISC-OUTPUT LOG_MARK=CAPDISC-OLOG
. /usr/local/lib/capdisc/container-lib.sh
# A started container: it serves, and its first process's effective, bounding and ambient sets.
started() {
    wait_secs 120 serves && say "$1-serves" yes
    pid=$(podman inspect --format '{{.State.Pid}}' "$2")
    say "$1-sets" "$(caps_of "$pid" CapEff) $(caps_of "$pid" CapBnd) $(caps_of "$pid" CapAmb)"
}
t_all=$(date +%s)
say begin "$(podman --version)" "$(crun --version | head -n 1)" "$(podman-compose --version 2>/dev/null | grep -i compose | tail -n 1)"

web_image podman
say import $?
podman run -d -q --name web --network=host --user 65534:65534 --cap-add=all --tmpfs /run/app localhost/web > /dev/null
wait_secs 120 serves && say web-serves yes

# From its start under podman 5, then the proof.
capdisc record --container web --restart -o /tmp/r.yaml --duration 60 > /tmp/r.log 2>&1 &
rec=$!
wait_secs 120 grep -q '^capdisc: recording' /tmp/r.log
wait_secs 120 serves
kill -INT $rec; wait $rec
say record-required "$(class_caps /tmp/r.yaml required)"
show record /tmp/r.log
# What each capability beyond the service's own was checked by (context for the runtime's needs).
awk '/^- name: /{keep = ($3 != "CAP_CHOWN" && $3 != "CAP_NET_BIND_SERVICE")} keep && /name: CAP|class:|comm:|exe:|frames:|^      - |path:/' /tmp/r.yaml | head -80 | show record-detail /dev/stdin
t0=$(date +%s)
capdisc minimize --container web --check "$check" --timeout 45 -o /tmp/p.yaml > /tmp/p.log 2>&1
say proof-exit $? $(( $(date +%s) - t0 ))
say proof-required "$(required /tmp/p.yaml)"
# The proven set as a mask (each capability's number is on the line after its name).
mask=0
for name in $(required /tmp/p.yaml | tr , ' '); do
    number=$(awk -v name="$name" '$1 == "-" && $2 == "name:" && $3 == name { getline; print $2; exit }' /tmp/p.yaml)
    mask=$(( mask | (1 << number) ))
done
say proof-mask "$(printf '%016x' $mask)"
show proof /tmp/p.log
podman rm -f -t 2 web > /dev/null

# compose: the fragment merged under the service.
mkdir -p /tmp/compose
{
    printf 'services:\n  web:\n    image: localhost/web\n    network_mode: host\n    user: "65534:65534"\n    tmpfs: [/run/app]\n'
    capdisc generate /tmp/p.yaml --format compose | grep -v '^#' | sed 's/^/    /'
} > /tmp/compose/compose.yaml
show compose /tmp/compose/compose.yaml
(cd /tmp/compose && podman-compose up -d) > /tmp/compose.log 2>&1
say compose-up $?
started compose "$(podman ps --format '{{.Names}}' | head -n 1)"
(cd /tmp/compose && podman-compose down -t 2) >> /tmp/compose.log 2>&1
show compose /tmp/compose.log

# Quadlet: the drop-in beside a .container that sets no capabilities; systemd starts it.
mkdir -p /etc/containers/systemd/webq.container.d
printf '[Container]\nImage=localhost/web\nContainerName=webq\nNetwork=host\nUser=65534\nGroup=65534\nTmpfs=/run/app\n' > /etc/containers/systemd/webq.container
capdisc generate /tmp/p.yaml --format quadlet > /etc/containers/systemd/webq.container.d/capdisc.conf
show quadlet /etc/containers/systemd/webq.container.d/capdisc.conf
systemctl daemon-reload
systemctl start webq.service
say quadlet-start $?
started quadlet webq
systemctl cat webq.service | grep -o -- '--cap-[a-z]*[= ][^ ]*' | show quadlet /dev/stdin
systemctl stop webq.service

# Kubernetes: the securityContext in a pod that `podman kube play` runs.
{
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: webk\nspec:\n  hostNetwork: true\n  containers:\n  - name: web\n    image: localhost/web\n'
    printf '    volumeMounts:\n    - name: app\n      mountPath: /run/app\n'
    capdisc generate /tmp/p.yaml --format k8s | sed 's/^/    /'
    printf '      runAsUser: 65534\n      runAsGroup: 65534\n  volumes:\n  - name: app\n    emptyDir:\n      medium: Memory\n'
} > /tmp/pod.yaml
show kube /tmp/pod.yaml
podman kube play /tmp/pod.yaml > /tmp/kube.log 2>&1
say kube-play $?
started kube webk-web
podman kube down /tmp/pod.yaml >> /tmp/kube.log 2>&1
show kube /tmp/kube.log
podman rm -af -t 2 > /dev/null
say time $(( $(date +%s) - t_all ))
# A real docker daemon (guest/docker.sh), rootless podman (guest/rootless.sh), then the Debian
# package, installed, used and removed (guest/package.sh).
capdisc-docker
capdisc-rootless
capdisc-package
say done
systemctl poweroff --no-block
