#!/bin/bash
# Stop one lab instance by the PID in its run dir, and remove the run dir.
# usage: scripts/xen-lab/stop.sh RUN_DIR|LAB_ENV_FILE     (LAB_KEEP_RUN=1 keeps the run dir)
# Only kills the PID if it still is this lab's QEMU (its command line names the run dir).
set -uo pipefail
ARG=${1:?usage: stop.sh RUN_DIR|LAB_ENV_FILE}
if [ -f "$ARG" ]; then RUN=$(sed -n 's/^LAB_RUN_DIR=//p' "$ARG"); else RUN=$ARG; fi
[ -d "$RUN" ] || { echo "[xen-lab stop] no run dir $RUN" >&2; exit 0; }
if [ -f "$RUN/qemu.pid" ]; then
  PID=$(cat "$RUN/qemu.pid")
  if [ -n "$PID" ] && tr '\0' ' ' < "/proc/$PID/cmdline" 2>/dev/null | grep -q -- "$RUN/"; then
    kill -TERM "$PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    echo "[xen-lab stop] stopped qemu $PID" >&2
  fi
fi
# The guest network's namespace side (boot.sh LAB_NETNS): the tap, and the namespace if boot.sh made it.
if [ -f "$RUN/netns.tap" ]; then
  read -r NS TAP < "$RUN/netns.tap"
  if [ -f "$RUN/netns.owned" ]; then ip netns del "$NS" 2>/dev/null
  else ip -n "$NS" link del "$TAP" 2>/dev/null; fi
  ip link del "$TAP" 2>/dev/null # still here if QEMU failed before the move
  rm -f "$RUN/netns.tap" "$RUN/netns.owned"
fi
[ "${LAB_KEEP_RUN:-0}" = 1 ] || rm -rf "$RUN"
exit 0
