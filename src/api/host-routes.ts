// Hosts (issue 14, host evacuation). Any process answers: host records live in the store.
//   GET  /api/hosts                    every host gridhost places on: open | draining | drained, its guests
//   GET  /api/hosts/:host              one of them
//   POST /api/hosts/:host/drain        {"reason"?, "by"?}  close it for placement, move its guests off
//   POST /api/hosts/:host/undrain      {"reason"?, "by"?}  open it again
import type { Request, RequestHandler } from 'express';
import type { HostChange, HostControl, HostView } from '../controller/host-control.ts';
import { GridhostError } from '../errors/errors.ts';
import { checkPlainWrite, jsonBody } from './write-requests.ts';
import type { RouteFn } from './operator-routes.ts';

const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Pure: a host name from the URL, or 400 naming it. */
export function checkHostName(raw: unknown): string {
  const h = typeof raw === 'string' ? raw : '';
  if (!HOST_RE.test(h) || h.includes('..')) {
    throw new GridhostError('GH_BAD_REQUEST', 'host must be a host name like dom0-a (letters, digits, "_", "." and "-", at most 64)', { field: 'host', found: String(raw ?? '').slice(0, 64) });
  }
  return h;
}

export function hostView(h: HostView) {
  return { ...h, ...(h.drain ? { drain: { ...h.drain, at: new Date(h.drain.at).toISOString() } } : {}) };
}

const changeView = (c: HostChange) => ({ changed: c.changed, host: hostView(c.host) });

export interface HostRouteDeps {
  hosts: HostControl;
  auth: RequestHandler;
  allowQuery: (allowed: readonly string[]) => RequestHandler;
}

const client = (req: Request): string => req.socket.remoteAddress ?? 'unknown';

export function hostRoutes(route: RouteFn, d: HostRouteDeps): void {
  route('/api/hosts', {
    get: [d.allowQuery([]), async (_req, res) => {
      res.json({ hosts: (await d.hosts.list()).map(hostView) });
    }],
  });
  route('/api/hosts/:host', {
    get: [d.allowQuery([]), async (req, res) => {
      res.json(hostView(await d.hosts.get(checkHostName(req.params.host))));
    }],
  });
  for (const action of ['drain', 'undrain'] as const) {
    route(`/api/hosts/:host/${action}`, {
      post: [d.auth, d.allowQuery([]), jsonBody(), async (req, res) => {
        const host = checkHostName(req.params.host);
        const who = checkPlainWrite(req.body as Record<string, unknown>, `POST /api/hosts/:host/${action}`, client(req));
        res.json(changeView(await d.hosts[action](host, who)));
      }],
    });
  }
}
