// One pool's backend compared with what gridhost registered there (a reconcile pass): servers a
// reload dropped, or never confirmed, are added back; a server carrying gridhost's prefix that it
// did not create, or one of its names at another address, blocks the pool (blocked(), with what
// to change in haproxy.cfg) until a later pass finds it fixed; and whether the backend's checks
// are HTTP, once, for a warning.
import { GridhostError, wrapError } from '../../../errors/errors.ts';
import { blockedError } from './haproxy-messages.ts';
import type { Emit, PoolEntry } from './pool-entry.ts';
import type { HaproxyRuntime } from './runtime-api.ts';
import type { ServerRegistration } from './server-registration.ts';
import { guestIdOf, planServers, serverName } from './server-plan.ts';

export interface BackendSyncDeps {
  rt: HaproxyRuntime;
  prefix: string;
  servers: ServerRegistration;
  /** One operation at a time per server (the balancer's lock: add, drain, remove, re-add). */
  locked: <T>(pool: string, id: string, op: () => Promise<T>) => Promise<T>;
  emit: Emit;
}

export class BackendSync {
  constructor(private readonly d: BackendSyncDeps) {}

  /** Compare one backend with what was registered: add back what is missing, block on what gridhost did not create. */
  async syncPool(p: PoolEntry): Promise<void> {
    const { prefix } = this.d;
    let rows;
    try {
      rows = await this.d.rt.serversState(p.backend);
    } catch (e) {
      this.block(p, wrapError('GH_HAPROXY_UNREACHABLE', e));
      return;
    }
    const plan = planServers(p.pool, prefix, p.wanted, rows);
    let problem: GridhostError | undefined;
    if (plan.foreign.length > 0) {
      problem = new GridhostError('GH_HAPROXY_SERVER_EXISTS', `backend "${p.backend}" holds ${plan.foreign.join(', ')}`, { backend: p.backend, servers: plan.foreign, fault: 'foreign-prefix' });
    }
    for (const m of plan.mismatched) {
      const name = serverName(prefix, m.id);
      p.foreign.add(name);
      problem ??= new GridhostError('GH_HAPROXY_SERVER_EXISTS', `backend "${p.backend}" has a server named ${name} at ${m.found}, but guest ${m.id} is at ${m.wanted}`, { backend: p.backend, servers: [name], fault: 'other-address' });
    }
    const redo = [...p.wanted].filter(([id, w]) => plan.missing.includes(id) || !w.confirmed).map(([id]) => id);
    const readded: string[] = [];
    for (const id of redo) {
      try {
        const done = await this.d.locked(p.pool, id, async () => {
          const w = p.wanted.get(id);
          if (!w || p.foreign.has(serverName(prefix, id))) return false;
          await this.d.servers.register(p, id, w);
          return true;
        });
        if (done) readded.push(id);
      } catch (e) {
        problem ??= wrapError('GH_HAPROXY_COMMAND_FAILED', e);
      }
    }
    if (readded.length > 0) this.d.emit({ kind: 'readded', pool: p.pool, backend: p.backend, ids: readded });
    if (problem) this.block(p, problem);
    else this.unblock(p);
    if (p.checkLayer === undefined && p.wanted.size > 0) await this.learnCheckLayer(p);
  }

  /** The pool blocked by `cause`, said once per new message. */
  block(p: PoolEntry, cause: GridhostError): void {
    const e = blockedError(p.pool, p.backend, this.d.rt.where, this.d.prefix, cause);
    const was = p.blocked;
    p.blocked = e;
    if (was?.message !== e.message) this.d.emit({ kind: 'blocked', pool: p.pool, backend: p.backend, error: { code: e.code, message: e.message } });
  }

  private unblock(p: PoolEntry): void {
    if (!p.blocked) return;
    p.blocked = undefined;
    this.d.emit({ kind: 'unblocked', pool: p.pool, backend: p.backend });
  }

  /** Whether the backend's checks are HTTP: a TCP-only check would call a broken guest healthy. */
  private async learnCheckLayer(p: PoolEntry): Promise<void> {
    try {
      const mine = (await this.d.rt.stat(p.backend, p.backendId !== undefined ? { backendId: p.backendId } : {})).filter((s) => guestIdOf(this.d.prefix, s.name)?.startsWith(`${p.pool}-`));
      if (mine.some((s) => s.checkStatus.startsWith('L7'))) p.checkLayer = 'L7';
      else if (mine.some((s) => s.checkStatus === 'L4OK')) {
        p.checkLayer = 'L4';
        this.d.emit({ kind: 'tcp-check-only', pool: p.pool, backend: p.backend, detail: `backend "${p.backend}" checks only that guests accept connections: add \`option httpchk GET <the pool's guest.health_path>\` to it in haproxy.cfg` });
      }
    } catch {
      // Only a warning depends on it; the next reconcile asks again.
    }
  }
}
