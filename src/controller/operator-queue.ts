// Operator actions waiting for a pool's action slot. An action runs alone: it waits until no
// action of gridhost's runs (none starts meanwhile), and nothing starts beside it.
import type { Policy } from '../domain/policy.ts';
import { GridhostError } from '../errors/errors.ts';

/** An operator's action for one pool. */
export interface OperatorOp {
  run(policy: Policy): Promise<void>;
}

export class OperatorQueue {
  private readonly waiting: { run: (p: Policy) => Promise<void>; fail: (e: unknown) => void }[] = [];
  /** An operator's action is running. */
  running = false;

  constructor(private readonly pool: string) {}

  /** Queued; settles as the action does (or GH_STOPPING if it never gets to run). */
  add(op: OperatorOp): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ run: (p) => op.run(p).then(resolve, (e: unknown) => reject(e)), fail: reject });
    });
  }

  get pending(): number {
    return this.waiting.length;
  }

  /** The next action to run, marked running until it settles. */
  take(): ((p: Policy) => Promise<void>) | undefined {
    const next = this.waiting.shift();
    if (!next) return undefined;
    this.running = true;
    return (p) => next.run(p).finally(() => { this.running = false; });
  }

  /** Nothing queued will run (gridhost stops, or `why`: the pool cannot act now). */
  failAll(why: GridhostError = this.stopping()): void {
    for (const w of this.waiting.splice(0)) w.fail(why);
  }

  stopping(): GridhostError {
    return new GridhostError('GH_STOPPING', `pool ${this.pool} takes no more actions: gridhost is stopping or the pool is no longer managed`);
  }
}
