// One server of a pool's backend put into HAProxy (added, or adopted when it is gridhost's own
// from before a restart, then health checks on and its admin state) or taken out (maintenance,
// then delete, cutting streams that outlast `removeWaitMs`); and runtime errors in a pool's terms.
import { GridhostError, isGridhostError, wrapError } from '../../../errors/errors.ts';
import { blockedError } from './haproxy-messages.ts';
import type { PoolEntry, Wanted } from './pool-entry.ts';
import type { HaproxyRuntime } from './runtime-api.ts';
import { rowAddress, serverName } from './server-plan.ts';

export class ServerRegistration {
  constructor(
    private readonly rt: HaproxyRuntime,
    private readonly prefix: string,
    private readonly removeWaitMs: number,
  ) {}

  /** Add (or adopt) the server and bring it to its admin state with health checks on. */
  async register(p: PoolEntry, id: string, w: Wanted): Promise<void> {
    const name = serverName(this.prefix, id);
    try {
      await this.rt.addServer(p.backend, name, w.address, p.check);
    } catch (e) {
      if (!isGridhostError(e) || e.code !== 'GH_HAPROXY_SERVER_EXISTS') throw this.forPool(p, e);
      const row = (await this.rt.serversState(p.backend)).find((r) => r.name === name);
      if (row && rowAddress(row) !== w.address) {
        p.foreign.add(name);
        throw this.forPool(p, new GridhostError('GH_HAPROXY_SERVER_EXISTS', `backend "${p.backend}" has a server named ${name} at ${rowAddress(row)}, but guest ${id} is at ${w.address}`, { backend: p.backend, servers: [name], fault: 'other-address' }));
      }
      // gridhost's own from before a restart: adopted as it is.
    }
    try {
      await this.rt.enableHealth(p.backend, name);
      await this.rt.setState(p.backend, name, w.admin);
    } catch (e) {
      throw this.forPool(p, e);
    }
    w.confirmed = true;
  }

  /** Maintenance, then delete; streams still attached get `removeWaitMs`, then are cut. */
  async deleteServer(backend: string, name: string): Promise<void> {
    try {
      await this.rt.setState(backend, name, 'maint');
    } catch (e) {
      if (isGridhostError(e) && (e.details.fault === 'unknown-server' || e.code === 'GH_HAPROXY_UNKNOWN_BACKEND')) return;
      throw e;
    }
    let deadline = Date.now() + this.removeWaitMs;
    let cut = false;
    for (;;) {
      const r = await this.rt.delServer(backend, name);
      if (r !== 'busy') return;
      if (Date.now() >= deadline) {
        if (cut) throw new GridhostError('GH_BALANCER_FAILED', `HAProxy server ${backend}/${name} still has connections after its sessions were shut down`, { backend, server: name });
        await this.rt.shutdownSessions(backend, name);
        cut = true;
        deadline = Date.now() + 1000;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A runtime error in a pool's terms (the pool named, what to change in haproxy.cfg). */
  forPool(p: PoolEntry, e: unknown): GridhostError {
    const err = wrapError('GH_HAPROXY_COMMAND_FAILED', e);
    if (!err.code.startsWith('GH_HAPROXY_')) return err;
    return blockedError(p.pool, p.backend, this.rt.where, this.prefix, err);
  }
}
