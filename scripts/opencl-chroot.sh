#!/usr/bin/env bash
# A real OpenCL driver on a Debian 12 machine: pocl 6 in a Debian 13 (trixie) chroot (docs/opencl.md says why).
#
#   scripts/opencl-chroot.sh build                       → builds the chroot once (≈ 1 min, ≈ 1 GB); later calls reuse it
#   scripts/opencl-chroot.sh run [--bind DIR]… [--ro DIR]… -- CMD …
#                                                        → runs CMD inside it (as root, HOME=TMPDIR=/tmp, a fresh tmpfs);
#                                                          each DIR is bound at the same path, --ro ones read-only
#   scripts/opencl-chroot.sh path                        → prints where the chroot lives
#   scripts/opencl-chroot.sh remove                      → deletes it (nothing can be mounted in it: see below)
#
# Where: $ENGINE_OPENCL_CHROOT, default /var/cache/neuron-engine/opencl-trixie (kept between runs where the machine keeps
# /var/cache). Needs root (debootstrap, chroot, mount) and Debian's archive through apt's own mirror; debootstrap itself
# is downloaded as a .deb and unpacked, not installed. Exit 3 (with the reason on stderr) where it cannot be done, so a
# caller can tell "no chroot possible here" from a failing command.
#
# Mounts: every `run` happens in a private mount namespace (unshare -m), so its /proc, /dev, /sys and bind mounts are
# invisible to the rest of the machine and vanish with the namespace even if the run is killed; the EXIT trap unmounts
# them in reverse order as well. So no bound /dev or build folder can ever be followed by an `rm -rf` of the chroot.
# The build's own mounts (debootstrap mounts /proc and /sys inside the target) happen in such a namespace too.
set -euo pipefail
root=${ENGINE_OPENCL_CHROOT:-/var/cache/neuron-engine/opencl-trixie}
suite=trixie
packages="pocl-opencl-icd clinfo"
# Bump when the recipe changes, so a cached chroot from an older recipe is rebuilt.
recipe=1

die3() { echo "opencl-chroot: $*" >&2; exit 3; }

usable() { [ -f "$root/.engine-recipe" ] && [ "$(cat "$root/.engine-recipe")" = "$recipe" ]; }

# The mirror apt uses here (deb822 sources first, then the one-line format), so debootstrap goes where apt goes.
mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

preflight() {
  [ "$(id -u)" = 0 ] || die3 "needs root (debootstrap, chroot and mount)"
  command -v unshare >/dev/null && unshare -m true 2>/dev/null || die3 "cannot make a private mount namespace (unshare -m)"
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || die3 "needs apt-get and dpkg (a Debian machine)"
}

build() {
  preflight
  usable && return 0
  mkdir -p "$(dirname "$root")"
  exec 9> "$root.lock"
  flock 9                                   # another run may be building it right now: wait, then reuse its result
  usable && return 0
  local work start=$SECONDS
  work=$(mktemp -d "$(dirname "$root")/opencl-build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  echo "opencl-chroot: building a Debian $suite chroot with pocl at $root (once; ≈ 1 min, ≈ 1 GB) …" >&2
  (cd "$work" && apt-get download -q debootstrap > download.log 2>&1) || {
    apt-get update -qq > /dev/null 2>&1 || true
    (cd "$work" && apt-get download -q debootstrap > download.log 2>&1) || { cat "$work/download.log" >&2; die3 "apt-get download debootstrap failed"; }
  }
  dpkg -x "$work"/debootstrap_*.deb "$work/dbs"
  local target=$work/root mirror_uri
  mirror_uri=$(mirror)
  # debootstrap's and apt's mounts stay inside this namespace; the trap inside unmounts them before the namespace ends.
  unshare -m --propagation private bash -euo pipefail -c '
    target=$1 dbs=$2 suite=$3 mirror=$4 packages=$5
    unmount_all() { findmnt -rn -o TARGET | grep -F "$target/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done; }
    trap unmount_all EXIT
    DEBOOTSTRAP_DIR=$dbs/usr/share/debootstrap "$dbs/usr/sbin/debootstrap" --variant=minbase --include=ca-certificates \
      "$suite" "$target" "$mirror" > "$target.debootstrap.log" 2>&1 || { tail -20 "$target.debootstrap.log" >&2; exit 1; }
    mount -t proc proc "$target/proc"
    mount --rbind /dev "$target/dev"
    mount --rbind /sys "$target/sys"
    cp /etc/resolv.conf "$target/etc/resolv.conf"
    chroot "$target" /bin/sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages && apt-get clean" \
      > "$target.apt.log" 2>&1 || { tail -20 "$target.apt.log" >&2; exit 1; }
    unmount_all
    trap - EXIT
  ' _ "$target" "$work/dbs" "$suite" "$mirror_uri" "$packages" || die3 "building the chroot failed (log above)"
  # Nothing is mounted in $target (the namespace is gone), so replacing an older chroot with rm -rf is safe.
  echo "$recipe" > "$target/.engine-recipe"
  rm -rf "$root.old"
  [ -e "$root" ] && mv "$root" "$root.old"
  mv "$target" "$root"
  rm -rf "$root.old"
  echo "opencl-chroot: ready in $((SECONDS - start)) s ($(du -sh "$root" | cut -f1))" >&2
}

run() {
  local binds=()
  while [ $# -gt 0 ]; do
    case $1 in
      --bind) binds+=("rw:$(realpath "$2")"); shift 2 ;;
      --ro) binds+=("ro:$(realpath "$2")"); shift 2 ;;
      --) shift; break ;;
      *) echo "opencl-chroot: run [--bind DIR]… [--ro DIR]… -- CMD …" >&2; exit 2 ;;
    esac
  done
  [ $# -gt 0 ] || { echo "opencl-chroot: run needs a command after --" >&2; exit 2; }
  build
  exec unshare -m --propagation private bash -euo pipefail -c '
    root=$1 n=$2; shift 2
    mounted=()
    unmount_all() { for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done; }
    trap unmount_all EXIT
    mount -t proc proc "$root/proc"; mounted+=("$root/proc")
    mount --rbind /dev "$root/dev"; mounted+=("$root/dev")
    mount --rbind /sys "$root/sys"; mounted+=("$root/sys")
    mount -t tmpfs tmpfs "$root/tmp"; mounted+=("$root/tmp")
    for ((i = 0; i < n; i++)); do
      mode=${1%%:*} dir=${1#*:}
      mkdir -p "$root$dir"
      mount --bind "$dir" "$root$dir"; mounted+=("$root$dir")
      [ "$mode" = ro ] && mount -o remount,bind,ro "$root$dir"
      shift
    done
    cwd=$PWD
    [ -d "$root$cwd" ] || cwd=/
    # Not exec: the trap must run after the command.
    set +e
    chroot "$root" /usr/bin/env -C "$cwd" HOME=/tmp TMPDIR=/tmp "$@"
    rc=$?
    exit $rc
  ' _ "$root" "${#binds[@]}" "${binds[@]}" "$@"
}

case ${1:-} in
  build) build ;;
  run) shift; run "$@" ;;
  path) echo "$root" ;;
  remove)
    # Mounts of a run live only in its own namespace, so none can be under $root here; check anyway before rm -rf.
    if findmnt -rn -o TARGET | grep -qF "$root/"; then die3 "something is mounted under $root; not removing"; fi
    rm -rf "$root" "$root.old" "$root.lock" ;;
  *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
