// How gridhost reaches a guest's HTTP endpoints (health, metrics, proxied traffic): directly
// when the guest's network is routable from here, else through a stream its host opens for us
// (a dom0's kept SSH connection: ssh2 forwardOut). One seam, used by the health waiter, the
// guest metrics source and the builtin balancer; callers pick the way once per guest, never
// per request.
import http from 'node:http';
import type { Duplex } from 'node:stream';

/** Opens a TCP stream to host:port as seen from the guest's host. Rejects with GridhostError. */
export type GuestConnect = (host: string, port: number) => Promise<Duplex>;

/** node's `createConnection(options, callback)` form (http.request option, http.Agent method). */
export type CreateConnection = NonNullable<http.ClientRequestArgs['createConnection']>;

/** Adapt a GuestConnect to node's callback form (for http.request({ createConnection })). */
export function createConnectionVia(connect: GuestConnect): CreateConnection {
  return (options, callback) => {
    connect(options.host ?? 'localhost', Number(options.port ?? 80)).then(
      (s) => callback(null, s),
      (e: Error) => callback(e, undefined as unknown as Duplex),
    );
    return undefined;
  };
}

/** An http.Agent (with `options`) whose sockets are opened by `connect`. */
export function agentVia(connect: GuestConnect, options: http.AgentOptions = {}): http.Agent {
  const agent = new http.Agent(options);
  (agent as unknown as { createConnection: CreateConnection }).createConnection = createConnectionVia(connect);
  return agent;
}

/**
 * Pause between health checks of a guest reached through its dom0, the longest check or metrics
 * read, and the connections per guest: a busy guest behind a busy dom0 answers slowly, and slow
 * is not dead; each connection is an SSH channel, so few per guest leave room for health checks,
 * metrics reads and xl (more requests wait in the agent).
 */
export const FORWARDED_GUESTS = Object.freeze({ checkIntervalMs: 2000, checkTimeoutMs: 10_000, socketsPerGuest: 4 });

/** `routed`: connect to guests directly; `ssh`: through the dom0's SSH connection. */
export type GuestNetwork = 'routed' | 'ssh';
export const GUEST_NETWORKS: readonly GuestNetwork[] = ['routed', 'ssh'];

/**
 * The way to each host's guests. Hosts not listed (local guests) and `routed` hosts are reached
 * directly: `connectFor`/`agentFor` return undefined, and callers use their plain code path.
 */
export class GuestRoutes {
  private readonly connects = new Map<string, GuestConnect>();
  private readonly agents = new Map<string, http.Agent>();

  /** `via` maps a host name to the stream opener of its guests; undefined = routed. */
  constructor(hosts: ReadonlyArray<{ name: string; via: GuestConnect | undefined }>) {
    for (const h of hosts) if (h.via) this.connects.set(h.name, h.via);
  }

  /** True when no host needs forwarding (callers may skip per-guest lookups altogether). */
  get allDirect(): boolean {
    return this.connects.size === 0;
  }

  connectFor(host: string | undefined): GuestConnect | undefined {
    return host === undefined ? undefined : this.connects.get(host);
  }

  /** A shared agent for one-off requests (health, metrics) to the host's guests; no keep-alive. */
  agentFor(host: string | undefined): http.Agent | undefined {
    const connect = this.connectFor(host);
    if (!connect || host === undefined) return undefined;
    let a = this.agents.get(host);
    if (!a) {
      a = agentVia(connect, { keepAlive: false });
      this.agents.set(host, a);
    }
    return a;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
