// The write API (each route behind the bearer token) and "why did it (not) scale?":
//   POST /api/pools/:pool/scale                 {"desired": n, "force"?: bool}  hold at n by hand
//   POST /api/pools/:pool/pause | /resume       no automatic action / back to the policy
//   POST /api/pools/:pool/guests/:guest/retire  drain and retire one guest (replaced first at min)
//   POST /api/pools/:pool/breaker/reset         close the launch circuit breaker
//   POST /api/pools/:pool/rollout               replace guests made from another template or base image
//   GET  /api/pools/:pool/decisions?since=&until=&limit=   the last hour of evaluations
// Every write body may carry "reason" and "by" (who asks); both land in the event it records.
// Bodies are checked field by field (write-requests.ts) before the controller sees them.
import type { Request, RequestHandler, Response } from 'express';
import type { Operator } from '../controller/operator.ts';
import type { Orchestrator } from '../controller/orchestrator.ts';
import { GridhostError } from '../errors/errors.ts';
import { evaluationView } from './decision-views.ts';
import { controlView } from './operator-views.ts';
import { eventView } from './pool-views.ts';
import { rolloutView } from './rollout-view.ts';
import type { PoolControl, ScaleEvent } from '../domain/types.ts';
import { checkGuestId, checkPlainWrite, checkScale, jsonBody, parseIsoParam } from './write-requests.ts';
import { parseLimit } from './request-checks.ts';

export type RouteFn = (path: string, methods: Partial<Record<'get' | 'post', RequestHandler[]>>) => void;

export interface OperatorRouteDeps {
  orchestrator: Orchestrator;
  /** Absent: the write routes answer 401 (the API has no token), never reach a driver. */
  operator?: Operator;
  /** Runs before every write: the bearer token check. */
  auth: RequestHandler;
  /** Query-parameter check of a route (unknown ones are a 400 naming them). */
  allowQuery: (allowed: readonly string[]) => RequestHandler;
  /** A well-formed pool name that the API knows, or GH_BAD_REQUEST / GH_NOT_FOUND. */
  knownPool: (raw: unknown) => Promise<string>;
}

const client = (req: Request): string => req.socket.remoteAddress ?? 'unknown';

/** A write's answer with its times in ISO 8601, like every other answer of the API. */
function writeView<T extends { control?: PoolControl; event: ScaleEvent }>(r: T) {
  const { control, event, ...rest } = r;
  const cv = controlView(control);
  return { ...rest, ...(cv ? { control: cv } : {}), event: eventView(event) };
}

export function operatorRoutes(route: RouteFn, d: OperatorRouteDeps): void {
  const op = (): Operator => {
    if (!d.operator) throw new GridhostError('GH_UNAUTHORIZED', 'the write API is disabled: set api.token in gridhost.yaml or GRIDHOST_API_TOKEN');
    return d.operator;
  };
  const write = (path: string, handle: (req: Request, res: Response, pool: string) => Promise<void>) =>
    route(path, {
      post: [d.auth, d.allowQuery([]), jsonBody(), async (req, res) => {
        const pool = await d.knownPool(req.params.pool);
        await handle(req, res, pool);
      }],
    });

  write('/api/pools/:pool/scale', async (req, res, pool) => {
    const { desired, force, req: who } = checkScale(req.body as Record<string, unknown>, 'POST /api/pools/:pool/scale', client(req));
    res.json(writeView(await op().scale(pool, desired, force, who)));
  });
  write('/api/pools/:pool/pause', async (req, res, pool) => {
    res.json(writeView(await op().pause(pool, checkPlainWrite(req.body as Record<string, unknown>, 'POST /api/pools/:pool/pause', client(req)))));
  });
  write('/api/pools/:pool/resume', async (req, res, pool) => {
    res.json(writeView(await op().resume(pool, checkPlainWrite(req.body as Record<string, unknown>, 'POST /api/pools/:pool/resume', client(req)))));
  });
  write('/api/pools/:pool/breaker/reset', async (req, res, pool) => {
    res.json(writeView(await op().resetBreaker(pool, checkPlainWrite(req.body as Record<string, unknown>, 'POST /api/pools/:pool/breaker/reset', client(req)))));
  });
  write('/api/pools/:pool/rollout', async (req, res, pool) => {
    const r = await op().rollout(pool, checkPlainWrite(req.body as Record<string, unknown>, 'POST /api/pools/:pool/rollout', client(req)));
    res.json({ ...writeView(r), rollout: rolloutView(r.rollout, undefined) });
  });
  write('/api/pools/:pool/guests/:guest/retire', async (req, res, pool) => {
    const guest = checkGuestId(req.params.guest);
    res.json(writeView(await op().retireGuest(pool, guest, checkPlainWrite(req.body as Record<string, unknown>, 'POST /api/pools/:pool/guests/:guest/retire', client(req)))));
  });

  route('/api/pools/:pool/decisions', {
    get: [d.allowQuery(['since', 'until', 'limit']), async (req, res) => {
      const pool = await d.knownPool(req.params.pool);
      const since = parseIsoParam('since', req.query.since);
      const until = parseIsoParam('until', req.query.until);
      if (since !== undefined && until !== undefined && since > until) throw new GridhostError('GH_BAD_REQUEST', 'since: must not be after until', { field: 'since' });
      const limit = parseLimit(req.query.limit);
      const journal = d.orchestrator.loop(pool)?.journal;
      const oldest = journal?.oldest();
      res.json({
        pool,
        ...(oldest !== undefined ? { oldest: new Date(oldest).toISOString() } : {}),
        decisions: (journal?.list({ ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), limit }) ?? []).map(evaluationView),
      });
    }],
  });
}
