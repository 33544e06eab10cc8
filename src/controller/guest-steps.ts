// The recorded steps of a guest's lifecycle (guest-lifecycle.ts): each state written to the store
// before the step it names (a fenced compare-and-set), each step and hook timed, reported and kept
// for the guest's bounded `history`. Entries wait in memory until the guest's next state write,
// which carries them: never a write of their own that could overwrite a newer record.
import { GUEST_HISTORY_MAX, type Guest, type GuestHistoryEntry, type GuestState } from '../domain/types.ts';
import type { HookName, Policy } from '../domain/policy.ts';
import type { HookRunner } from '../drivers/hooks/hook-runner.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';

export interface StepDeps {
  store: Store;
  clock: Clock;
  telemetry: Telemetry;
  hooks?: HookRunner;
  /** Test hook (kill tests): awaited before each named step is attempted. Never set in production. */
  pauseAt?: (step: string, guest: Guest) => Promise<void>;
}

export class GuestSteps {
  /** History entries of steps since the guest's last store write; the next write carries them. */
  private readonly pending = new Map<string, GuestHistoryEntry[]>();

  constructor(private readonly d: StepDeps) {}

  note(id: string, e: GuestHistoryEntry): void {
    const list = this.pending.get(id) ?? [];
    list.push(e);
    this.pending.set(id, list);
  }

  /**
   * Move the guest to `to` in the store (durably) before the step that state names begins: a
   * compare-and-set on the version `g` was read at, fenced by the pool's token. A refused write
   * (GH_STALE_WRITE: someone changed the guest since; GH_FENCED: another gridhost leads the
   * pool) is thrown as it is, and the step it guards is not attempted.
   */
  async transition(g: Guest, to: GuestState, patch: Partial<Guest> = {}, fence?: ActingFence): Promise<Guest> {
    fence?.check();
    const next: Guest = { ...g, ...patch, state: to, updatedAt: this.d.clock.now() };
    // The steps since the last write join the history read with `g` (its version is the one
    // the compare-and-set checks: a record changed since is refused, not overwritten).
    const added = this.pending.get(g.id);
    if (added !== undefined) next.history = [...(g.history ?? []), ...added].slice(-GUEST_HISTORY_MAX);
    const saved = await this.d.store.saveGuest(next, fenceData(fence));
    if (added !== undefined) this.pending.delete(g.id);
    return saved;
  }

  /**
   * Run one step inside the guest's current state, adding its duration to `took`. Reported as
   * detail when `detail` (steps whose end is not itself a transition), and always when it fails.
   */
  async step<T>(g: Guest, action: string, took: Record<string, number>, fn: () => Promise<T>, fence: ActingFence | undefined, detail = true): Promise<T> {
    const started = this.d.clock.now();
    this.d.telemetry.guestStepStarted?.({ pool: g.pool, guest: g.id, action });
    try {
      // A holder that may no longer act (its lease could have expired) starts no driver action.
      fence?.check();
      await this.d.pauseAt?.(action, g);
      const r = await fn();
      took[action] = this.d.clock.now() - started;
      if (detail) this.d.telemetry.guestStep({ pool: g.pool, guest: g.id, action, state: g.state, durationMs: took[action] });
      this.note(g.id, { at: started, action, outcome: 'ok', durationMs: took[action] });
      return r;
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      took[action] = this.d.clock.now() - started;
      this.note(g.id, { at: started, action, outcome: 'failed', durationMs: took[action], detail: err.message, code: err.code });
      this.d.telemetry.guestStep({ pool: g.pool, guest: g.id, action, state: g.state, durationMs: took[action], error: { code: err.code, message: err.message } });
      throw err;
    }
  }

  /** Report the transition `from` -> `g.state`; `since` is when `from` was entered. */
  moved(g: Guest, action: string, from: GuestState | 'none', since: number, stepsMs: Record<string, number> = {}, reason?: string): void {
    this.d.telemetry.guestStep({
      pool: g.pool, guest: g.id, action, from, to: g.state, durationMs: this.d.clock.now() - since,
      ...(Object.keys(stepsMs).length > 0 ? { stepsMs } : {}), ...(reason !== undefined ? { reason } : {}),
    });
  }

  /**
   * Run the policy's hook `name` for the guest, if it has one; record it in the guest's history
   * (written with the next state), the log and the metrics, and its duration in `took`.
   * Resolves false only when the hook failed and on_failure is abandon.
   */
  async runHook(name: HookName, g: Guest, policy: Policy | undefined, took: Record<string, number>, fence: ActingFence | undefined): Promise<boolean> {
    const hook = policy?.hooks?.[name];
    if (policy === undefined || hook === undefined) return true;
    if (this.d.hooks === undefined) throw new GridhostError('GH_INTERNAL', `pool ${policy.pool} has a ${name} hook but no hook runner is configured`);
    // A holder that may no longer act for the pool runs no hook either.
    fence?.check();
    const at = this.d.clock.now();
    const r = await this.d.hooks.run(hook, { hook: name, guest: g.id, pool: g.pool, address: g.address ?? '', host: g.host });
    took[name] = r.durationMs;
    const outcome = r.ok ? 'ok' : hook.onFailure === 'continue' ? 'continued' : 'abandoned';
    this.note(g.id, { at, action: name, outcome, durationMs: r.durationMs, detail: `${hook.kind}: ${r.detail}`, ...(r.ok ? {} : { code: 'GH_HOOK_FAILED' }) });
    this.d.telemetry.hook({ pool: g.pool, guest: g.id, hook: name, kind: hook.kind, state: g.state, outcome, durationMs: r.durationMs, detail: r.detail });
    return outcome !== 'abandoned';
  }
}
