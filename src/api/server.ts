// The REST API (express). Read endpoints are open on the configured (loopback by default)
// address; write endpoints need the bearer token. Every error is JSON with a stable code.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Store } from '../store/store.ts';
import type { Orchestrator } from '../controller/orchestrator.ts';
import type { Clock } from '../controller/clock.ts';
import { GridhostError, isGridhostError } from '../errors/errors.ts';
import { POOL_NAME_RE } from '../policy/parse-policy.ts';
import { requireToken } from './auth.ts';
import { describePool, summarizePools } from './pool-views.ts';

export interface ApiDeps {
  store: Store;
  orchestrator: Orchestrator;
  registry: Registry;
  clock: Clock;
  token?: string;
  /** Called for unexpected errors (logged by the caller; never includes secrets). */
  onError?: (err: GridhostError, req: Request) => void;
}

// Exactly the names a policy may give a pool.
const POOL_RE = POOL_NAME_RE;

function poolParam(req: Request): string {
  const pool = String(req.params.pool ?? '');
  if (!POOL_RE.test(pool)) throw new GridhostError('GH_BAD_REQUEST', `invalid pool name: must match ${POOL_RE.source}`);
  return pool;
}

/** Pure: parse ?limit= (1..1000, default 100). */
export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new GridhostError('GH_BAD_REQUEST', 'limit must be an integer from 1 to 1000', { found: raw });
  return n;
}

export function createApi(d: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 2);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', pools: d.orchestrator.managedPools().length });
  });

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', d.registry.contentType);
    res.send(await d.registry.metrics());
  });

  app.get('/api/pools', async (_req, res) => {
    res.json({ pools: await summarizePools(d.store, d.orchestrator, d.clock.now()) });
  });

  app.get('/api/pools/:pool', async (req, res) => {
    const pool = poolParam(req);
    const view = await describePool(d.store, d.orchestrator, pool, d.clock.now());
    if (!view) throw new GridhostError('GH_NOT_FOUND', `no pool named ${pool}`);
    res.json(view);
  });

  app.get('/api/events', async (req, res) => {
    const limit = parseLimit(req.query.limit);
    const pool = req.query.pool === undefined ? undefined : String(req.query.pool);
    if (pool !== undefined && !POOL_RE.test(pool)) throw new GridhostError('GH_BAD_REQUEST', 'invalid pool name');
    res.json({ events: await d.store.listEvents({ pool, limit }) });
  });

  app.post('/api/pools/:pool/retire', requireToken(d.token), async (req, res) => {
    const pool = poolParam(req);
    res.json(await d.orchestrator.retireUnmanaged(pool));
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new GridhostError('GH_NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // No route reads a body, so no body-parser error can arrive here.
    const e = isGridhostError(err) ? err : new GridhostError('GH_INTERNAL', 'internal error', {}, { cause: err });
    if (e.status >= 500) d.onError?.(e, req);
    res.status(e.status).json({ error: { code: e.code, message: e.message } });
  });
  return app;
}
