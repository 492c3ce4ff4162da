#!/bin/sh
# capdisc's Debian package (`cargo xtask deb`) installed, used and removed in the container
# outputs' guest, as a user would: dpkg, man, completions, the watch service enabled and serving,
# then apt remove and purge. Lines starting with CAPDISC- are read by `cargo xtask vm`.
set -u
MARK=CAPDISC-PACKAGE LOG_MARK=CAPDISC-PLOG
. /usr/local/lib/capdisc/container-lib.sh
dpkg -i /root/capdisc.deb > /tmp/dpkg.log 2>&1
say install $?
show install /tmp/dpkg.log
say version "$(/usr/bin/capdisc --version 2>&1)"
man -P cat capdisc 2> /dev/null | grep -q 'schema_version' && say man renders
man -P cat capdisc-minimize 2> /dev/null | grep -q -- '--container' && say man-subcommand renders
bash -c '. /usr/share/bash-completion/completions/capdisc && complete -p capdisc' > /dev/null 2>&1 && say bash-completion loads
[ -s /usr/share/zsh/vendor-completions/_capdisc ] && [ -s /usr/share/fish/vendor_completions.d/capdisc.fish ] && say zsh-fish present
say unit-enabled "$(systemctl is-enabled capdisc-watch.service 2>&1)"
systemctl enable --now capdisc-watch.service > /dev/null 2>&1
say enable $?
metrics() { curl -fsS --max-time 3 http://127.0.0.1:9733/metrics | grep -q '^capdisc_'; }
wait_secs 180 metrics && say metrics served
pid=$(systemctl show -p MainPID --value capdisc-watch.service)
say capbnd "$(caps_of "$pid" CapBnd)"
journalctl -u capdisc-watch.service --no-pager -o cat | tail -n 5 | show watch /dev/stdin
# What a capdisc run leaves under /run while it works (a unit lock, as a restart takes one).
mkdir -p /run/capdisc/locks
apt-get remove -y capdisc > /tmp/remove.log 2>&1
say remove $?
show remove /tmp/remove.log
left() {
    found=""
    [ -e /usr/bin/capdisc ] && found="$found /usr/bin/capdisc"
    systemctl is-active -q capdisc-watch.service && found="$found running"
    for unit in /lib/systemd/system/capdisc-watch.service /usr/lib/systemd/system/capdisc-watch.service; do
        [ -e "$unit" ] && found="$found $unit"
    done
    [ -e /run/capdisc ] && found="$found /run/capdisc"
    for dropin in /run/systemd/system/*.d/zz-capdisc-* /etc/systemd/system/*.d/*capdisc*; do
        [ -e "$dropin" ] && found="$found $dropin"
    done
    [ -e /usr/share/man/man1/capdisc.1.gz ] || [ -e /usr/share/man/man1/capdisc.1 ] && found="$found man"
    echo "${found:-nothing}"
}
say left-after-remove "$(left)"
apt-get purge -y capdisc > /tmp/purge.log 2>&1
say purge $?
leftover_state=""
[ -e /var/lib/capdisc ] && leftover_state="$leftover_state /var/lib/capdisc"
for link in /etc/systemd/system/capdisc-watch.service /etc/systemd/system/multi-user.target.wants/capdisc-watch.service; do
    [ -e "$link" ] || [ -L "$link" ] && leftover_state="$leftover_state $link"
done
say left-after-purge "$(left)${leftover_state}"
