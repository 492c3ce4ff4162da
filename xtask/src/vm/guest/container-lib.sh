# Shared by the guests' container steps (containers.sh, outputs.sh), sourced after setting MARK
# (the prefix of result lines) and LOG_MARK (of context lines).
say() { echo "$MARK $*"; }
show() { sed "s/^/$LOG_MARK $1 /" "$2"; }
# Polls (TCG guests are slow and vary): up to N s (by the clock, however long each try takes)
# for the command to succeed.
wait_secs() { deadline=$(( $(date +%s) + $1 )); shift; while :; do "$@" > /dev/null 2>&1 && return 0; [ "$(date +%s)" -ge $deadline ] && return 1; sleep 0.2; done; }
# The image's service answers on :604 (a TCP connect: it accepts and closes).
serves() { bash -c ': < /dev/tcp/127.0.0.1/604'; }
check='bash -c ": < /dev/tcp/127.0.0.1/604"'
# What generate grants from a profile (its JSON's required list), and a profile's capabilities
# of one class.
required() { capdisc generate "$1" --format json | tr -d ' \n' | sed -n 's/.*"required":\[\([^]]*\)\].*/\1/p' | tr -d '"'; }
class_caps() { awk -v class="$2" '/^- name: /{name=$3} /^  class: /{if ($2 == class) print name}' "$1" | sort | paste -sd, -; }
caps_of() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }

# The container image, made offline (nothing is pulled): one static binary (capdisc's test
# workload) whose start takes a fresh runtime directory (a tmpfs, root's) for the container's
# user (CAP_CHOWN, every start) and serves :604 as that user (CAP_NET_BIND_SERVICE). Imported
# as localhost/web by ENGINE (podman or docker), run as `"$@" ENGINE` (a rootless user's:
# `web_image podman as_alice`).
web_image() {
    engine=$1
    shift
    root=$(mktemp -d)
    # The image's / as usual (mktemp's 0700 would make the container's user need
    # CAP_DAC_READ_SEARCH to reach /workload: the proof finds exactly that).
    chmod 755 "$root"
    mkdir -p "$root/tmp" "$root/etc" "$root/run/app"
    cp /usr/local/bin/capdisc-workload "$root/workload"
    printf 'root:x:0:0:root:/:/workload\nnobody:x:65534:65534:nobody:/:/workload\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    tar -C "$root" -cf "$root.tar" . &&
        "$@" "$engine" import --change 'CMD ["/workload", "chown-then-serve", "/run/app", "65534", "604"]' "$root.tar" localhost/web > /dev/null
    status=$?
    rm -rf "$root" "$root.tar"
    return $status
}
