#!/bin/bash
# Stops a lab when whoever booted it is gone: a test runner killed by SIGKILL or a timeout
# runs no teardown, and a daemonized QEMU (3 GB, a full core) would otherwise live on.
# boot.sh starts it, detached, when LAB_OWNER_PIDS is set.
#
# usage: follow-owner.sh RUN_DIR QEMU_PID OWNER_PID...
# Each owner is identified by its pid and its start time (/proc/PID/stat field 22), so a pid
# reused by another process does not keep the lab alive. Polls once a second.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=$1 QEMU=$2; shift 2
starttime() { awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }
declare -A born=()
for p in "$@"; do born[$p]=$(starttime "$p"); done
while kill -0 "$QEMU" 2>/dev/null; do
  for p in "${!born[@]}"; do
    if [ -z "${born[$p]}" ] || [ "$(starttime "$p")" != "${born[$p]}" ]; then
      echo "[xen-lab follow-owner] owner $p is gone: stopping the lab in $RUN" >> "$RUN/qemu.err" 2>/dev/null
      exec "$HERE/stop.sh" "$RUN"
    fi
  done
  sleep 1
done
