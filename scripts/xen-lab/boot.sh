#!/bin/bash
# Boot one Xen lab instance (Xen 4.17 + dom0) in QEMU/TCG, daemonized, in its own run dir.
# Waits for the dom0's DOM0-READY serial line, then for SSH with the pinned host key.
#
# usage: scripts/xen-lab/boot.sh
# env:   LAB_SSH_PORT   host port forwarded to dom0:22 on 127.0.0.1 (default: 2222 if free, else
#                       a free ephemeral port)
#        LAB_RUN_DIR    run dir (default: a new $CACHE/run/lab.XXXXXX); must not hold a running lab
#        LAB_BUILD      build dir (default: whatever build.sh prints; it builds if needed)
#        LAB_NETNS      a network namespace (made here if it does not exist; then stop.sh removes
#                       it) joined to the guests' bridge: QEMU gets a second NIC, a tap device
#                       moved into the namespace with LAB_NETNS_ADDR (default 192.168.100.254/24),
#                       and dom0 enslaves that NIC to xenbr0, so processes in the namespace reach
#                       the domUs (and dom0's sshd at 192.168.100.1) directly, with no SSH hop
#        LAB_OWNER_PIDS pids whose death stops the lab (follow-owner.sh; test/xen/lab.ts passes
#                       its own and its ancestors'); unset: the lab runs until stop.sh
#        LAB_MEM_MB=3072 LAB_SMP=2 LAB_DOM0_MEM=1024M LAB_BOOT_TIMEOUT=240 (seconds)
# stdout: the env file ($LAB_RUN_DIR/lab.env, KEY=VALUE lines; see README.md). Logs on stderr.
# Stop with: scripts/xen-lab/stop.sh "$LAB_RUN_DIR"
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${GRIDHOST_LAB_CACHE:-/var/cache/gridhost-xen-lab}
log() { echo "[xen-lab boot] $*" >&2; }
T0=$(date +%s.%N)
elapsed() { awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%.1f", a - b }'; }

# The one list of host packages (qemu-system-x86 among them) is scripts/ensure-packages.sh.
"$HERE/../ensure-packages.sh" xen

if [ -z "${LAB_BUILD:-}" ]; then
  LAB_BUILD=$("$HERE/build.sh" | sed -n 's/^LAB_BUILD=//p' | tail -1)
fi
[ -f "$LAB_BUILD/build.env" ] || { log "no lab build in '$LAB_BUILD'"; exit 1; }
K=$CACHE/keys
FINGERPRINT=$(cat "$K/dom0_host_key.sha256")

mkdir -p "$CACHE/run"
RUN=${LAB_RUN_DIR:-$(mktemp -d "$CACHE/run/lab.XXXXXX")}
mkdir -p "$RUN"; RUN=$(cd "$RUN" && pwd)
if [ -f "$RUN/qemu.pid" ] && kill -0 "$(cat "$RUN/qemu.pid")" 2>/dev/null; then
  log "a lab is already running in $RUN (pid $(cat "$RUN/qemu.pid"))"; exit 1
fi
rm -f "$RUN/serial.log" "$RUN/console.sock" "$RUN/qemu.pid" "$RUN/lab.env"

# The guest network's second way out: a tap device QEMU opens in this namespace, then moved
# into LAB_NETNS (an open tap keeps working across the move). Its MAC tells dom0 which NIC it is.
NET_ARGS=()
TAP=
if [ -n "${LAB_NETNS:-}" ]; then
  if ! ip netns list | awk '{print $1}' | grep -qx "$LAB_NETNS"; then
    ip netns add "$LAB_NETNS"
    echo "$LAB_NETNS" > "$RUN/netns.owned"
  fi
  TAP=ghlab$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  ip tuntap add dev "$TAP" mode tap
  echo "$LAB_NETNS $TAP" > "$RUN/netns.tap"
  NET_ARGS=(-netdev "tap,id=n1,ifname=$TAP,script=no,downscript=no" -device "virtio-net-pci,netdev=n1,mac=52:54:00:67:68:31")
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  if port_free 2222; then echo 2222; return; fi
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

started=0
cleanup_on_failure() {
  if [ $started = 1 ] && [ ! -f "$RUN/lab.env" ] && [ -f "$RUN/qemu.pid" ]; then
    kill "$(cat "$RUN/qemu.pid")" 2>/dev/null || true
  fi
}
trap cleanup_on_failure EXIT
trap 'exit 130' INT TERM

XEN_CMD="dom0_mem=${LAB_DOM0_MEM:-1024M},max:${LAB_DOM0_MEM:-1024M} dom0_max_vcpus=${LAB_SMP:-2} console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot console_timestamps=boot bootscrub=0"
# Several tries only when the port was picked here and lost to someone else meanwhile.
for try in 1 2 3; do
  PORT=${LAB_SSH_PORT:-$(pick_port)}
  if qemu-system-x86_64 -accel tcg -m "${LAB_MEM_MB:-3072}" -smp "${LAB_SMP:-2}" \
      -name "gridhost-xen-lab,process=gridhost-xen-lab" \
      -kernel "$LAB_BUILD/xen" -append "$XEN_CMD" \
      -initrd "$LAB_BUILD/vmlinux console=hvc0 earlyprintk=xen,$LAB_BUILD/dom0.cpio.gz" \
      -display none -monitor none -no-reboot \
      -chardev "socket,id=s0,path=$RUN/console.sock,server=on,wait=off,logfile=$RUN/serial.log" \
      -serial chardev:s0 \
      -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0 "${NET_ARGS[@]}" \
      -pidfile "$RUN/qemu.pid" -daemonize 2>"$RUN/qemu.err"; then
    started=1; break
  fi
  log "qemu failed to start on port $PORT: $(cat "$RUN/qemu.err")"
  [ -n "${LAB_SSH_PORT:-}" ] && exit 1
done
[ $started = 1 ] || exit 1
PID=$(cat "$RUN/qemu.pid")
log "qemu pid $PID, ssh port $PORT, run dir $RUN"
if [ -n "$TAP" ]; then
  NS_ADDR=${LAB_NETNS_ADDR:-192.168.100.254/24}
  ip link set "$TAP" netns "$LAB_NETNS"
  ip -n "$LAB_NETNS" link set lo up
  ip -n "$LAB_NETNS" link set "$TAP" up
  ip -n "$LAB_NETNS" addr add "$NS_ADDR" dev "$TAP"
  log "guest network joined to namespace $LAB_NETNS ($TAP, $NS_ADDR)"
fi
if [ -n "${LAB_OWNER_PIDS:-}" ]; then
  # shellcheck disable=SC2086
  setsid "$HERE/follow-owner.sh" "$RUN" "$PID" $LAB_OWNER_PIDS </dev/null >/dev/null 2>&1 &
fi

# known_hosts pinned to the lab's host key: the lab is checked like gridhost checks it
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$K/dom0_host_key.pub")" > "$RUN/known_hosts"
SSH=(ssh -q -i "$K/id_ed25519" -o IdentitiesOnly=yes -o UserKnownHostsFile="$RUN/known_hosts"
     -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o BatchMode=yes -p "$PORT" root@127.0.0.1)

deadline=$(( $(date +%s) + ${LAB_BOOT_TIMEOUT:-240} ))
fail() { log "BOOT FAILED: $*"; tail -30 "$RUN/serial.log" >&2 2>/dev/null || true; exit 1; }
# The serial marker first: an early ssh attempt is accepted by QEMU's forwarder before dom0
# listens, and then stalls.
until grep -q DOM0-READY "$RUN/serial.log" 2>/dev/null; do
  grep -q -E "Dom0 crashed|Panic on CPU|Kernel panic" "$RUN/serial.log" 2>/dev/null && fail "crash on the console"
  kill -0 "$PID" 2>/dev/null || fail "qemu exited"
  [ "$(date +%s)" -lt $deadline ] || fail "no DOM0-READY after ${LAB_BOOT_TIMEOUT:-240} s"
  sleep 0.2
done
log "dom0 ready (serial) after $(elapsed) s"
until timeout 30 "${SSH[@]}" 'xl list >/dev/null'; do
  kill -0 "$PID" 2>/dev/null || fail "qemu exited"
  [ "$(date +%s)" -lt $deadline ] || fail "no ssh/xl after ${LAB_BOOT_TIMEOUT:-240} s"
  sleep 1
done
BOOT_S=$(elapsed)
log "ssh + xl list answer after $BOOT_S s"

{
  echo "LAB_RUN_DIR=$RUN"
  echo "LAB_PID=$PID"
  echo "LAB_SSH_HOST=127.0.0.1"
  echo "LAB_SSH_PORT=$PORT"
  echo "LAB_SSH_USER=root"
  echo "LAB_KEY=$K/id_ed25519"
  echo "LAB_FINGERPRINT=$FINGERPRINT"
  echo "LAB_HOST_KEY_PUB=$K/dom0_host_key.pub"
  echo "LAB_KNOWN_HOSTS=$RUN/known_hosts"
  echo "LAB_SERIAL_LOG=$RUN/serial.log"
  echo "LAB_CONSOLE_SOCK=$RUN/console.sock"
  echo "LAB_BUILD=$LAB_BUILD"
  cat "$LAB_BUILD/build.env"
  echo "LAB_BOOT_SECONDS=$BOOT_S"
  echo "LAB_GUEST_KERNEL=/var/lib/xen/boot/vmlinux"
  echo "LAB_GUEST_RAMDISK=/var/lib/xen/boot/domU.cpio.gz"
  echo "LAB_IMAGES_DIR=/var/lib/xen/images"
  echo "LAB_BASE_IMAGE=/var/lib/xen/images/base.img"
  echo "LAB_BASE_LV=/dev/gridhost/base"
  echo "LAB_VG=gridhost"
  echo "LAB_BRIDGE=xenbr0"
  echo "LAB_GUEST_NET=192.168.100.0/24"
  echo "LAB_GUEST_GW=192.168.100.1"
  if [ -n "$TAP" ]; then
    echo "LAB_NETNS=$LAB_NETNS"
    echo "LAB_NETNS_ADDR=${NS_ADDR%/*}"
    echo "LAB_NETNS_TAP=$TAP"
    echo "LAB_DOM0_GUEST_ADDR=192.168.100.1"
  fi
} > "$RUN/lab.env.tmp"
mv "$RUN/lab.env.tmp" "$RUN/lab.env"
cat "$RUN/lab.env"
