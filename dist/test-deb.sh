#!/bin/sh
# The Debian package end to end (make test-deb; Tests/DaemonTests/DebianPackageTests.swift):
# installs DEB with its dependencies into a fresh copy of a Debian 12 root (debootstrap's, made
# once into .build/debian12/root and reused), runs resmond there as the unit does (user resmon,
# /var/lib/resmon, /etc/resmon) for 3 cycles while `resmon status` asks it, then purges the
# package and checks that nothing of it is left. Needs root (chroot, mount) and the archive.
# usage: test-deb.sh DEB
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
deb=$(readlink -f "$1")
mirror=${DEB_MIRROR:-http://deb.debian.org/debian}
cache=$root/.build/debian12/root
started=$(date +%s)
step() { echo "test-deb: $(( $(date +%s) - started )) s: $*"; }

if [ ! -x "$cache/usr/bin/apt-get" ]; then
  step "debootstrap bookworm into $cache"
  rm -rf "$cache.partial"
  mkdir -p "$(dirname "$cache")"
  debootstrap --variant=minbase bookworm "$cache.partial" "$mirror" >"$cache.log" 2>&1 || { tail -20 "$cache.log" >&2; exit 1; }
  mv "$cache.partial" "$cache"
fi

work=$(mktemp -d /tmp/resmon-deb.XXXXXX)
target=$work/root
sleeper=""
cleanup() {
  if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null || true; fi
  umount -R -l "$target/sys" 2>/dev/null || true
  umount -l "$target/proc" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
step "copy the Debian 12 root"
cp -a "$cache" "$target"
cp /etc/resolv.conf "$target/etc/resolv.conf"
mount -t proc proc "$target/proc"
# /sys with its submounts (the cgroup hierarchies), never propagating an unmount back.
mount --rbind /sys "$target/sys"
mount --make-rslave "$target/sys"
# Nothing starts services in here (there is no systemd; policy-rc.d says so to invoke-rc.d).
printf '#!/bin/sh\nexit 101\n' >"$target/usr/sbin/policy-rc.d"
chmod 755 "$target/usr/sbin/policy-rc.d"
in_root() { chroot "$target" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

step "apt install $(basename "$deb")"
cp "$deb" "$target/tmp/resmon.deb"
in_root apt-get update -q >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
in_root apt-get install -y -q --no-install-recommends /tmp/resmon.deb >>"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
rm "$target/tmp/resmon.deb"
in_root getent passwd resmon >/dev/null || { echo "test-deb: the postinst made no user resmon" >&2; exit 1; }
in_root getent group resmon >/dev/null || { echo "test-deb: the postinst made no group resmon" >&2; exit 1; }
files=$(in_root dpkg -L resmon)

# What StateDirectory=resmon makes; then resmond as resmon with the unit's two capabilities.
install -d -o "$(in_root id -u resmon)" -g "$(in_root id -g resmon)" -m 750 "$target/var/lib/resmon"
# resmond ARGUMENTS...: started in the background as the unit runs it; its pid in $daemon.
resmond() {
  : >"$work/resmond.log"
  chroot "$target" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setpriv --reuid=resmon --regid=resmon --init-groups \
    --inh-caps=+dac_read_search,+sys_ptrace --ambient-caps=+dac_read_search,+sys_ptrace \
    resmond --state-dir /var/lib/resmon --config-dir /etc/resmon --listen none "$@" >>"$work/resmond.log" 2>&1 &
  daemon=$!
}
# finished: waits for resmond, prints its log, fails unless it exited 0 without a complaint.
finished() {
  status=0
  wait "$daemon" || status=$?
  cat "$work/resmond.log"
  [ "$status" -eq 0 ] || { echo "test-deb: resmond exited with $status" >&2; exit 1; }
  if grep -q "cannot write\|warning\|error" "$work/resmond.log"; then echo "test-deb: resmond complained (above)" >&2; exit 1; fi
}

step "resmond --cycles 3 as the unit runs it (user resmon), resmon status"
resmond --step 5 --cycles 3
answered=""
while kill -0 "$daemon" 2>/dev/null; do
  if in_root resmon status >"$work/status.txt" 2>&1; then answered=1; break; fi
  sleep 0.2
done
finished
grep -q "stopped after 3 sampling cycles" "$work/resmond.log" || { echo "test-deb: resmond did not stop after 3 cycles" >&2; exit 1; }
[ -n "$answered" ] || { echo "test-deb: resmon status never answered:" >&2; cat "$work/status.txt" >&2; exit 1; }
cat "$work/status.txt"

step "resmond reads another user's /proc/PID/io and fd (the unit's two capabilities)"
# Root's process; its statistics have no value when resmond cannot read the files (a counter
# has one from its second sample). resmond runs until they have, then stops on SIGTERM.
sleep 600 &
sleeper=$!
resmond --step 1
read_others=""
for _ in $(seq 1 240); do
  kill -0 "$daemon" 2>/dev/null || break
  in_root resmon --json get "process:$sleeper:read_bytes_total" >"$work/io.txt" 2>&1 || true
  in_root resmon --json get "process:$sleeper:open_fds" >>"$work/io.txt" 2>&1 || true
  if [ "$(grep -Ec '"value" *: *[0-9]' "$work/io.txt")" -eq 2 ]; then read_others=1; break; fi
  sleep 0.5
done
kill -TERM "$daemon" 2>/dev/null || true
finished
[ -n "$read_others" ] || { echo "test-deb: resmond (user resmon) did not read root's process's io and fd:" >&2; cat "$work/io.txt" >&2; exit 1; }

step "apt purge resmon"
in_root apt-get purge -y -q resmon >>"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
if in_root dpkg-query -W -f='${db:Status-Status}\n' resmon 2>/dev/null | grep -qv "not-installed"; then
  echo "test-deb: dpkg still knows resmon" >&2
  exit 1
fi
left=""
for file in $files; do
  case $file in /. | /etc | /lib | /lib/systemd | /lib/systemd/system | /usr | /usr/* ) [ -d "$target$file" ] && continue ;; esac
  if [ -e "$target$file" ] || [ -L "$target$file" ]; then left="$left $file"; fi
done
for path in $(cd "$target" && find . -xdev -name '*resmon*' -not -path './proc/*' -not -path './sys/*' | sed 's|^\.||'); do left="$left $path"; done
[ -z "$left" ] || { echo "test-deb: left after purge:$left" >&2; exit 1; }
step "purged: nothing of resmon left (its system user and group stay, as Debian's do)"
