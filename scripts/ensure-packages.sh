#!/usr/bin/env bash
# The one list of Debian packages that gridhost's commands drive for real, and the one place
# that installs them. npm runs it before each command that needs some (pretest, prebench,
# pretest:xen*); `npm start` needs none.
#
# usage: scripts/ensure-packages.sh GROUP...     GROUP: test | bench | xen
#   - installs (as root, with apt-get) only the packages of those groups that are missing;
#   - as another user, with any missing, prints one line naming them and exits 1;
#   - with nothing missing, prints nothing and changes nothing.
set -euo pipefail

declare -A WHY=(
  # npm test
  [openssh-server]="test: a real sshd on loopback for the SSH transport and Xen driver tests"
  [xfsprogs]="test: an XFS loop image gives reflink clones (the usual disk is ext4)"
  [busybox-static]="test: a third POSIX shell the quoting tests run through"
  [prometheus]="test: promtool checks /metrics; a real Prometheus scrapes gridhost"
  [curl]="test, xen: scripts and the lab's checks"
  [systemd]="test: systemd-analyze verify checks the example unit (deploy/systemd)"
  [chromium]="test: the dashboard is tested in real headless Chromium (driven by playwright-core)"
  [haproxy]="test, bench, xen: the haproxy balancer driver drives a real HAProxy 2.6 through its runtime API (test:xen: in front of the lab's guests)"
  # npm test and npm run bench
  [wrk]="test, bench: the HTTP load generator (zero-failure tests, balancer benchmark)"
  # npm run test:xen* and bench:xen (scripts/xen-lab/build.sh copies the user space into the lab)
  [qemu-system-x86]="xen: boots Xen 4.17 and dom0 under software emulation"
  [cpio]="xen: packs the lab's initramfs"
  [dropbear-bin]="xen: the lab dom0's SSH server"
  [openssh-client]="xen: ssh-keygen for the lab's keys"
  [python3]="xen: picks free ports"
  [e2fsprogs]="xen: the guests' base image"
  [lvm2]="xen: lvm-snapshot clones inside dom0"
  [dmsetup]="xen: lvm-snapshot clones inside dom0"
  [qemu-utils]="xen: qcow2 clones inside dom0"
  [util-linux]="xen: flock, losetup inside dom0"
  [mount]="xen: mounts inside dom0"
  [coreutils]="xen: cp --reflink inside dom0"
  [bash]="xen: dom0's shell"
)
declare -A GROUP=(
  [test]="openssh-server xfsprogs busybox-static prometheus curl chromium systemd haproxy wrk"
  [bench]="wrk haproxy openssh-server xfsprogs curl"
  [xen]="qemu-system-x86 busybox-static cpio dropbear-bin openssh-client python3 e2fsprogs xfsprogs lvm2 dmsetup qemu-utils bash util-linux mount coreutils curl haproxy"
)

[ $# -gt 0 ] || { echo "usage: $0 GROUP... (${!GROUP[*]})" >&2; exit 2; }
want=()
for g in "$@"; do
  [ -n "${GROUP[$g]:-}" ] || { echo "$0: unknown group '$g' (known: ${!GROUP[*]})" >&2; exit 2; }
  # shellcheck disable=SC2206
  want+=(${GROUP[$g]})
done
missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "gridhost: missing Debian packages; as root run: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "gridhost: installing Debian packages: ${missing[*]}" >&2
for p in "${missing[@]}"; do echo "  $p: ${WHY[$p]:-}" >&2; done
export DEBIAN_FRONTEND=noninteractive
# Try without refreshing the package lists first (fast when they are current); refresh on failure.
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2 2>/dev/null ||
  { apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2; }
