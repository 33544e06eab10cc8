// The dom0 hosts of the Xen driver: one SshHost (one kept connection) per dom0, shared by the
// hypervisor driver and the xentop metrics source, with each host's up/down state.
import type http from 'node:http';
import type { Dom0Config } from './xen-settings.ts';
import { GridhostError, isGridhostError, wrapError } from '../../errors/errors.ts';
import { SshHost, type ExecOptions, type ExecResult, type SshCounters, type SshHostOptions } from '../ssh/ssh-connection.ts';

export interface HostState {
  name: string;
  up: boolean;
  /** Last transport error, when down. */
  error?: string;
  /** Code of that error (GH_HOST_UNREACHABLE or GH_HOST_KEY_MISMATCH), when down. */
  code?: string;
}

export interface XenHostsOptions {
  /** Extra SshHost options (timeouts, backoff, maxChannels) applied to every dom0. */
  ssh?: Partial<Omit<SshHostOptions, 'name' | 'address' | 'port' | 'user' | 'privateKeyPath' | 'hostKeyFingerprint'>>;
}

export class XenHosts {
  private readonly hosts = new Map<string, { ssh: SshHost; state: HostState }>();

  constructor(dom0s: readonly Dom0Config[], opts: XenHostsOptions = {}) {
    for (const d of dom0s) {
      if (this.hosts.has(d.name)) throw new GridhostError('GH_CONFIG_INVALID', `dom0 name ${d.name} is configured twice`);
      const o: SshHostOptions = { ...opts.ssh, name: d.name, address: d.address, port: d.port, user: d.user, hostKeyFingerprint: d.hostKeyFingerprint };
      if (d.privateKeyPath) o.privateKeyPath = d.privateKeyPath;
      // Optimistically up until a command says otherwise.
      this.hosts.set(d.name, { ssh: new SshHost(o), state: { name: d.name, up: true } });
    }
  }

  names(): string[] {
    return [...this.hosts.keys()];
  }

  states(): HostState[] {
    return [...this.hosts.values()].map((h) => ({ ...h.state }));
  }

  isUp(name: string): boolean {
    return this.hosts.get(name)?.state.up ?? false;
  }

  ssh(name: string): SshHost {
    const h = this.hosts.get(name);
    if (!h) throw new GridhostError('GH_HOST_UNREACHABLE', `dom0 ${name} is not configured (known: ${this.names().join(', ') || 'none'})`, { host: name });
    return h.ssh;
  }

  /** An http.Agent reaching addresses as seen from the dom0 (guests on its bridge), over SSH. */
  agent(name: string): http.Agent {
    return this.ssh(name).agent();
  }

  /**
   * Run argv on a dom0. Transport failures mark the host down (and rethrow); any completed
   * command marks it up. A GH_COMMAND_TIMEOUT does not mark it down: the host answered before.
   */
  async exec(name: string, argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
    const h = this.hosts.get(name);
    if (!h) throw new GridhostError('GH_HOST_UNREACHABLE', `dom0 ${name} is not configured`, { host: name });
    try {
      const r = await h.ssh.exec(argv, opts);
      h.state = { name, up: true };
      return r;
    } catch (e) {
      const err = isGridhostError(e) ? e : wrapError('GH_HOST_UNREACHABLE', e, { host: name });
      if (err.code === 'GH_HOST_UNREACHABLE' || err.code === 'GH_HOST_KEY_MISMATCH') h.state = { name, up: false, error: err.message, code: err.code };
      throw err;
    }
  }

  counters(): SshCounters {
    const sum: SshCounters = { handshakes: 0, commands: 0, forwards: 0 };
    for (const { ssh } of this.hosts.values()) {
      sum.handshakes += ssh.counters.handshakes;
      sum.commands += ssh.counters.commands;
      sum.forwards += ssh.counters.forwards;
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.ssh.close()));
  }
}
