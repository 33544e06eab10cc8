// Signals from monitoring systems and scripts:
//   POST /api/pools/:pool/signal   {"rule": NAME, "key"?} or an Alertmanager webhook payload
//   GET  /api/pools/:pool/signals  what the pool was sent, and what became of it
// A signal is accepted by any gridhost process (into the pool's record in the store, with
// compare-and-set) and served by the pool's leader at its next tick, within the pool's bounds
// and cooldowns (decision/strategies/signal.ts). The POST needs the API token, or the pool's own
// webhook secret (policy webhook.secret_env names the environment variable holding it), both as
// `Authorization: Bearer ...`; another pool's secret is a 403. Secrets are never logged.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Orchestrator } from '../controller/orchestrator.ts';
import type { Clock } from '../controller/clock.ts';
import { takeSignals } from '../controller/signal-intake.ts';
import type { Policy } from '../domain/policy.ts';
import { signalState, type SignalEntry } from '../decision/signal-book.ts';
import { GridhostError } from '../errors/errors.ts';
import type { Store } from '../store/store.ts';
import { tokenMatches, weakTokenReason } from './auth.ts';
import { MAX_SIGNAL_BODY_BYTES, parseSignalRequest } from './signal-requests.ts';
import { jsonBody } from './write-requests.ts';
import type { RouteFn } from './operator-routes.ts';

export interface SignalRouteDeps {
  store: Store;
  orchestrator: Orchestrator;
  clock: Clock;
  /** The API token (absent: only webhook secrets authorize signals). */
  token?: string;
  /** Looks up an environment variable (a policy's webhook.secret_env); default process.env. */
  env?: (name: string) => string | undefined;
  allowQuery: (allowed: readonly string[]) => RequestHandler;
  knownPool: (raw: unknown) => Promise<string>;
  /** Called once per request that accepted signals (for the log; never given a secret). */
  onSignal?: (pool: string, accepted: readonly SignalEntry[], duplicates: number) => void;
}

const client = (req: Request): string => req.socket.remoteAddress ?? 'unknown';

function entryView(e: SignalEntry, policy: Policy | undefined, now: number) {
  const rule = policy?.signalRules?.find((r) => r.name === e.rule);
  return {
    key: e.key, rule: e.rule, from: e.from, at: new Date(e.at).toISOString(), state: signalState(e, rule, now),
    ...(e.servedAt !== undefined ? { servedAt: new Date(e.servedAt).toISOString() } : {}),
    ...(e.servedBy !== undefined ? { servedBy: e.servedBy } : {}),
  };
}

export function signalRoutes(route: RouteFn, d: SignalRouteDeps): void {
  const env = d.env ?? ((name: string) => process.env[name]);
  /** A pool's webhook secret when its variable holds a strong one; else none (never a weak one). */
  const secretOf = (policy: Policy | undefined): string | undefined => {
    const name = policy?.webhook?.secretEnv;
    const value = name === undefined ? undefined : env(name);
    return value !== undefined && weakTokenReason(value) === undefined ? value : undefined;
  };

  const auth = async (req: Request, _res: Response, next: NextFunction) => {
    const pool = await d.knownPool(req.params.pool);
    const header = req.get('authorization');
    const policy = d.orchestrator.policy(pool);
    if (tokenMatches(header, d.token) || tokenMatches(header, secretOf(policy))) return next();
    if (header !== undefined) {
      for (const other of d.orchestrator.managedPools()) {
        if (other !== pool && tokenMatches(header, secretOf(d.orchestrator.policy(other)))) {
          throw new GridhostError('GH_FORBIDDEN', `this is the webhook secret of another pool; it sends signals to that pool only, not to ${pool}`, { pool });
        }
      }
    }
    if (!d.token && secretOf(policy) === undefined) {
      throw new GridhostError('GH_UNAUTHORIZED', `signals to pool ${pool} are disabled: set api.token in gridhost.yaml (GRIDHOST_API_TOKEN), or name a variable holding a secret in the policy's webhook.secret_env`);
    }
    throw new GridhostError('GH_UNAUTHORIZED', 'a signal needs the API token or the pool\'s webhook secret: Authorization: Bearer ...');
  };

  route('/api/pools/:pool/signal', {
    post: [d.allowQuery([]), auth, jsonBody(MAX_SIGNAL_BODY_BYTES), async (req, res) => {
      const pool = await d.knownPool(req.params.pool);
      const policy = d.orchestrator.policy(pool);
      if (!policy) throw new GridhostError('GH_POOL_UNMANAGED', `pool ${pool} has no policy here (its file was removed): it takes no signals`, { pool });
      const request = parseSignalRequest(policy, req.body as Record<string, unknown>, client(req));
      const now = d.clock.now();
      const r = await takeSignals(d.store, policy, request.offers, now);
      if (r.accepted.length > 0) {
        d.onSignal?.(pool, r.accepted, r.duplicates.length);
        // The leader, when it is this process, decides now instead of at its next interval.
        d.orchestrator.loop(pool)?.poke();
      }
      res.status(r.accepted.length > 0 ? 202 : 200).json({
        pool,
        form: request.form,
        accepted: r.accepted.map((e) => entryView(e, policy, now)),
        duplicates: r.duplicates.map((e) => entryView(e, policy, now)),
        ignored: request.ignored,
        pending: r.pending,
      });
    }],
  });

  route('/api/pools/:pool/signals', {
    get: [d.allowQuery([]), async (req, res) => {
      const pool = await d.knownPool(req.params.pool);
      const now = d.clock.now();
      const book = (await d.store.getPool(pool))?.signals;
      const policy = d.orchestrator.policy(pool);
      res.json({ pool, signals: (book?.entries ?? []).slice().reverse().map((e) => entryView(e, policy, now)) });
    }],
  });
}
