// The REST API (express). Read endpoints are open on the configured (loopback by default)
// address; write endpoints need the bearer token. Every error is JSON with a stable code
// (README "API" lists them per route); times are ISO 8601 everywhere.
//
// Each route names its query parameters (anything else is a 400 naming it) and the methods it
// answers (any other is a 405 with Allow). A pool name that is well formed but unknown is a 404
// on every route that takes one.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Store } from '../store/store.ts';
import type { Orchestrator } from '../controller/orchestrator.ts';
import type { Clock } from '../controller/clock.ts';
import { GridhostError, isGridhostError } from '../errors/errors.ts';
import { requireToken } from './auth.ts';
import { describePool, eventView, guestView, poolKnown, summarizePools } from './pool-views.ts';
import type { Operator } from '../controller/operator.ts';
import type { PolicyProblems } from '../controller/policy-problems.ts';
import { operatorRoutes } from './operator-routes.ts';
import { signalRoutes } from './signal-routes.ts';
import { hostRoutes } from './host-routes.ts';
import type { SignalEntry } from '../decision/signal-book.ts';
import { invalidPolicies } from './operator-views.ts';
import { serveDashboard } from './dashboard-routes.ts';
import { allowQuery, checkGuestId, checkPoolName, cut, parseLimit } from './request-checks.ts';
import { scrapeTargets } from './scrape-targets.ts';

export { parseLimit } from './request-checks.ts';

export interface ApiDeps {
  store: Store;
  orchestrator: Orchestrator;
  registry: Registry;
  clock: Clock;
  token?: string;
  /** This process's id among the gridhost processes sharing the store. */
  holder?: string;
  /** Degraded (HTTP 503, with the reason) while the store cannot be written. */
  health?: () => { status: 'ok' | 'degraded'; reason?: string; [k: string]: unknown };
  /** The write API's actions (pause, scale, retire, ...); absent: those routes refuse. */
  operator?: Operator;
  /** Policy files that fail validation (banners of the dashboard, GET /api/pools). */
  problems?: PolicyProblems;
  /** Called for unexpected errors (5xx; logged by the caller at error level; never includes secrets). */
  onError?: (err: GridhostError, req: Request) => void;
  /** Called for requests refused with a 4xx (logged by the caller at debug: clients must not fill the log). */
  onRejected?: (err: GridhostError, req: Request) => void;
  /** Signals accepted (POST /api/pools/:pool/signal), for the log. */
  onSignal?: (pool: string, accepted: readonly SignalEntry[], duplicates: number) => void;
  /** Environment lookup for policies' webhook.secret_env (default process.env). */
  env?: (name: string) => string | undefined;
}

type Method = 'get' | 'post';

/** One path, the handlers of each method it answers, and a 405 (with Allow) for the rest. */
function route(app: express.Express, path: string, methods: Partial<Record<Method, RequestHandler[]>>): void {
  const r = app.route(path);
  const allow: string[] = [];
  for (const [m, handlers] of Object.entries(methods) as [Method, RequestHandler[]][]) {
    r[m](...handlers);
    allow.push(...(m === 'get' ? ['GET', 'HEAD'] : [m.toUpperCase()]));
  }
  r.all((req: Request, res: Response, next: NextFunction) => {
    res.set('Allow', allow.join(', '));
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next(new GridhostError('GH_METHOD_NOT_ALLOWED', `${cut(req.method, 16)} is not allowed on ${path}; allowed: ${allow.join(', ')}`, { allowed: allow }));
  });
}

export function createApi(d: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 2);

  const knownPool = async (raw: unknown): Promise<string> => {
    const pool = checkPoolName(raw);
    if (!(await poolKnown(d.store, d.orchestrator, pool))) throw new GridhostError('GH_NOT_FOUND', `no pool named ${pool}`, { pool });
    return pool;
  };

  // gridhost itself is alive (200 either way: restarting it would not help a pool); `degraded`
  // names every managed pool whose clients get 503, or whose balancer fails open.
  route(app, '/healthz', {
    get: [allowQuery([]), async (_req, res) => {
      const h = d.health?.() ?? { status: 'ok' as const };
      const pools = d.orchestrator.managedPools();
      if (h.status !== 'ok') return void res.status(503).json({ ...h, pools: pools.length });
      // Liveness stays 200 while a pool this process leads is not served; the body says which.
      const degraded: { pool: string; reason: string }[] = [];
      for (const pool of d.orchestrator.ledPools()) {
        const s = await d.orchestrator.serving(pool);
        if (s !== undefined && s.reason !== undefined) degraded.push({ pool, reason: s.reason });
      }
      res.json(degraded.length > 0 ? { ...h, status: 'degraded', pools: pools.length, degraded } : { ...h, pools: pools.length });
    }],
  });

  route(app, '/metrics', {
    get: [allowQuery([]), async (_req, res) => {
      res.set('Content-Type', d.registry.contentType);
      res.send(await d.registry.metrics());
    }],
  });

  serveDashboard((path, methods) => route(app, path, methods), app);

  route(app, '/api/pools', {
    get: [allowQuery([]), async (_req, res) => {
      const pools = await summarizePools(d.store, d.orchestrator, d.clock.now(), d.holder, d.problems);
      const managedFiles = new Set(pools.filter((p) => p.managed && p.file).map((p) => p.file!));
      res.json({ pools, invalidPolicies: invalidPolicies(d.problems?.list() ?? [], managedFiles) });
    }],
  });

  route(app, '/api/pools/:pool', {
    get: [allowQuery([]), async (req, res) => {
      const pool = checkPoolName(req.params.pool);
      const view = await describePool(d.store, d.orchestrator, pool, d.clock.now(), d.holder, d.problems);
      if (!view) throw new GridhostError('GH_NOT_FOUND', `no pool named ${pool}`, { pool });
      res.json(view);
    }],
  });

  route(app, '/api/pools/:pool/guests/:guest', {
    get: [allowQuery([]), async (req, res) => {
      const pool = await knownPool(req.params.pool);
      const id = checkGuestId(req.params.guest);
      const g = await d.store.getGuest(id);
      if (!g || g.pool !== pool) throw new GridhostError('GH_NOT_FOUND', `pool ${pool} has no guest ${id}`, { pool, guest: id });
      res.json(guestView(g));
    }],
  });

  // Who led the pool when (lease-acquired / -released with fencing tokens) and what the
  // reconciler repaired, newest first: the same answer from every process.
  route(app, '/api/pools/:pool/history', {
    get: [allowQuery(['limit']), async (req, res) => {
      const pool = await knownPool(req.params.pool);
      const limit = parseLimit(req.query.limit);
      res.json({ history: (await d.store.listHistory({ pool, limit })).map((h) => ({ ...h, at: new Date(h.at).toISOString() })) });
    }],
  });

  route(app, '/api/events', {
    get: [allowQuery(['pool', 'limit']), async (req, res) => {
      const limit = parseLimit(req.query.limit);
      const pool = req.query.pool === undefined ? undefined : await knownPool(req.query.pool);
      res.json({ events: (await d.store.listEvents({ pool, limit })).map(eventView) });
    }],
  });

  // Prometheus http_sd_configs: the serving guests, labelled pool and guest (rules with
  // source: prometheus query what Prometheus scraped from them).
  route(app, '/api/prometheus/targets', {
    get: [allowQuery([]), async (_req, res) => {
      // Every process answers for every pool: the guests are in the shared store, the policy is known here.
      res.json(await scrapeTargets(d.store, (pool) => d.orchestrator.policy(pool)?.guest.metricsPath));
    }],
  });

  route(app, '/api/pools/:pool/retire', {
    post: [requireToken(d.token), allowQuery([]), async (req, res) => {
      const pool = await knownPool(req.params.pool);
      res.json(await d.orchestrator.retireUnmanaged(pool));
    }],
  });

  operatorRoutes((path, methods) => route(app, path, methods), {
    orchestrator: d.orchestrator, ...(d.operator ? { operator: d.operator } : {}), auth: requireToken(d.token), allowQuery, knownPool,
  });

  hostRoutes((path, methods) => route(app, path, methods), { hosts: d.orchestrator.hosts, auth: requireToken(d.token), allowQuery });

  signalRoutes((path, methods) => route(app, path, methods), {
    store: d.store, orchestrator: d.orchestrator, clock: d.clock, allowQuery, knownPool,
    ...(d.token ? { token: d.token } : {}), ...(d.env ? { env: d.env } : {}), ...(d.onSignal ? { onSignal: d.onSignal } : {}),
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new GridhostError('GH_NOT_FOUND', `no route for ${cut(req.method, 16)} ${cut(req.path, 200)}`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = asApiError(err);
    if (e.status >= 500) d.onError?.(e, req);
    else d.onRejected?.(e, req);
    if (res.headersSent) return void res.destroy();
    // Details (what was wrong with the request) help a client; a server error's stay in the log.
    const withDetails = e.status < 500 && Object.keys(e.details).length > 0;
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(withDetails ? { details: e.details } : {}) } });
  });
  return app;
}

/**
 * Pure: the API error for anything a route or express threw. Express reports a path that is not
 * valid percent-encoding (`%zz`, `%`, an overlong or surrogate UTF-8 sequence) as a URIError
 * with status 400: that is the client's mistake, not ours. Write bodies are read and checked
 * by write-requests.ts, which throws GridhostErrors of its own.
 */
export function asApiError(err: unknown): GridhostError {
  if (isGridhostError(err)) return err;
  if (err instanceof URIError) {
    return new GridhostError('GH_BAD_REQUEST', 'the URL is not valid percent-encoded UTF-8', {}, { cause: err });
  }
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new GridhostError('GH_BAD_REQUEST', 'the request is malformed', {}, { cause: err });
  }
  return new GridhostError('GH_INTERNAL', 'internal error', {}, { cause: err });
}
