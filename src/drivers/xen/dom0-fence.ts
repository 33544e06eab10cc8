// Fencing on dom0 itself (issue 10): every command that changes a pool's guests on a dom0 runs
// behind a check, on that dom0, of the newest lease that has acted there for the pool. The
// store already refuses a deposed leader's writes; this refuses its `xl create`, `xl shutdown`,
// clone and delete, which the store never sees (a leader cut off from the store but not from
// dom0, or one whose lease ran out while a command was on its way).
//
// The fence file `<dir>/<pool>` holds `acquiredAt token holder` of the newest lease seen. A
// lease is newer when it was taken later (acquiredAt, the store's clock), then by token. Taking
// time first keeps a store that was reset (its tokens restart at 1) able to act, while a leader
// of the old store, whose lease was taken earlier, is refused. (The cost: a store clock stepped
// back by more than a lease's age refuses its new leaders until it catches up; the refusal says so.)
//
// Commands of the current lease run under a shared flock on `<dir>/<pool>.lock`, so many run at
// once; a newer lease takes the lock exclusively to write the file, which waits for commands of
// the older lease still running there (also ones that outlived a killed gridhost's SSH session)
// and refuses every later one. The command itself gets no copy of the lock's descriptor: `xl
// create` leaves a monitor process for the domain's whole life, which must not hold the lock.
import type { DriverFence } from '../hypervisor/hypervisor.ts';
import { assertSafeName } from '../ssh/shell-quote.ts';

/** The exit status of a refused command (EX_TEMPFAIL); stderr then starts with FENCED_MARK. */
export const FENCED_EXIT = 75;
export const FENCED_MARK = 'gridhost-fenced:';
/** How long a newer lease waits for the older lease's commands still running on the host. */
export const FENCE_WAIT_S = 300;

const SCRIPT = String.raw`d=$1 p=$2 at=$3 tok=$4 who=$5; shift 5
mkdir -p "$d" || exit 1
f="$d/$p"
exec 9>>"$f.lock" || exit 1
flock -w ${FENCE_WAIT_S} -s 9 || { echo "gridhost-fence: $f.lock stayed locked for ${FENCE_WAIT_S} s" >&2; exit 1; }
cur() { cat=0 ctok=0 cwho=; [ -s "$f" ] && read -r cat ctok cwho < "$f"; case "$cat:$ctok" in *[!0-9:]*|:*|*:) cat=0 ctok=0;; esac; }
order() { if [ "$at" -eq "$cat" ] && [ "$tok" -eq "$ctok" ]; then return 0; fi
  if [ "$at" -gt "$cat" ] || { [ "$at" -eq "$cat" ] && [ "$tok" -gt "$ctok" ]; }; then return 1; fi; return 2; }
cur; order; c=$?
if [ $c -eq 1 ]; then
  flock -w ${FENCE_WAIT_S} -x 9 || { echo "gridhost-fence: commands of an older lease still hold $f.lock after ${FENCE_WAIT_S} s" >&2; exit 1; }
  cur; order; c=$?
  if [ $c -eq 1 ]; then printf '%s %s %s\n' "$at" "$tok" "$who" > "$f.tmp" && mv -f "$f.tmp" "$f" || exit 1; c=0; fi
  flock -s 9
fi
if [ $c -ne 0 ]; then
  echo "${FENCED_MARK} pool $p on this host was acted on by a newer lease (token $ctok taken at $cat by $cwho) than this command's (token $tok taken at $at)" >&2
  exit ${FENCED_EXIT}
fi
"$@" 9>&-`;

/** `argv` to run on dom0 behind the pool's fence in `dir` (absolute, shell-safe: validated config). */
export function fencedArgv(dir: string, fence: DriverFence, argv: readonly string[]): string[] {
  if (!Number.isSafeInteger(fence.token) || fence.token < 0 || !Number.isSafeInteger(fence.acquiredAt) || fence.acquiredAt < 0) {
    throw new RangeError(`fence of pool ${fence.pool} has no valid token/acquiredAt`);
  }
  return ['bash', '-c', SCRIPT, 'gridhost-fence', dir, assertSafeName(fence.pool), String(fence.acquiredAt), String(fence.token), holderWord(fence.holder), ...argv];
}

/** The holder as one word of the fence file (it is only shown, never compared). */
function holderWord(h: string): string {
  return h.replace(/[^A-Za-z0-9_.:/@-]/g, '_').slice(0, 120) || '-';
}

/** Whether a command's result is the fence's refusal (not the command's own failure). */
export function isFencedRefusal(r: { code: number | null; stderr: string }): boolean {
  return r.code === FENCED_EXIT && r.stderr.includes(FENCED_MARK);
}

/** The refusal's sentence, for the error. */
export function fencedReason(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.includes(FENCED_MARK)) ?? FENCED_MARK;
  return line.slice(line.indexOf(FENCED_MARK) + FENCED_MARK.length).trim();
}
