// A pool's rollout as the API shows it (times in ISO 8601): which guests are outdated (from the
// leader, which checks the digests) and the rollout's state (from the leader, else the pool's
// record, so every process answers it).
import type { RolloutRecord } from '../decision/rollout-plan.ts';
import type { RolloutStatus } from '../controller/rollout.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function recordView(r: RolloutRecord) {
  return {
    state: r.state, by: r.by, reason: r.reason, startedAt: iso(r.startedAt), batches: r.batches, replaced: r.replaced, launched: r.launched,
    ...(r.nextBatchAt !== undefined ? { nextBatchAt: iso(r.nextBatchAt) } : {}),
    ...(r.finishedAt !== undefined ? { finishedAt: iso(r.finishedAt) } : {}),
    ...(r.failure ? { failure: { ...r.failure, at: iso(r.failure.at) } } : {}),
    ...(r.batch ? { batch: { at: iso(r.batch.at), retiring: r.batch.retiring } } : {}),
  };
}

/** `state` idle: no rollout has run (or the record has none). */
export function rolloutView(status: RolloutStatus | undefined, record: RolloutRecord | undefined) {
  const r = status?.record ?? record;
  return {
    state: r?.state ?? 'idle',
    ...(status ? { mode: status.mode, outdated: status.outdated, checkedAt: iso(status.checkedAt) } : {}),
    ...(status?.unknown ? { unknown: status.unknown } : {}),
    ...(status?.waiting !== undefined ? { waiting: status.waiting } : {}),
    ...(r ? recordView(r) : {}),
  };
}
