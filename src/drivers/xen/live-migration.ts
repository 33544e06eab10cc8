// Live migration of a guest to another dom0 (`xl migrate`), for host evacuation (drain-host).
// Only between dom0s that name the same `storage` in gridhost.yaml: they reach the guest's disk
// at the same path (NFS, iSCSI, a cluster file system) and share its network (the guest keeps
// its address). xl on the source dom0 runs `ssh <target> xl migrate-receive`, so root on each
// dom0 of a storage group must reach the others by SSH at their `migrate_to` address (default:
// their `address`); setting that up is the operator's. One migration at a time per source dom0.
//
// Steps: read the guest's rendered config on the source; place it on a peer (memory reserved
// there as for a new guest); `xl migrate`; move the rendered config (its header names the new
// host) to the target; ask the target for the domain's new id. A failed `xl migrate` leaves the
// guest running on the source (xl resumes it there) and is GH_MIGRATE_FAILED.
import type { Guest } from '../../domain/types.ts';
import { GridhostError, isGridhostError } from '../../errors/errors.ts';
import type { DriverFence, StepResult } from '../hypervisor/hypervisor.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';
import type { ExecResult } from '../ssh/ssh-connection.ts';
import { KeyedLock } from './keyed-lock.ts';
import { cfgMemoryMb } from './xl-cfg.ts';
import { xlErrorSummary } from './xl-parse.ts';

export interface MigrationDeps {
  hostNames(): readonly string[];
  isUp(host: string): boolean;
  /** Storage group of each dom0 that has one. */
  storageByHost: Readonly<Record<string, string>>;
  /** Where xl on a peer reaches each dom0 (default its address). */
  migrateToByHost: Readonly<Record<string, string>>;
  xlPath: string;
  cfgDir: string;
  memoryMb: number;
  migrateTimeoutMs: number;
  commandTimeoutMs: number;
  /** Run argv on a dom0 (behind the pool's fence when one is given); GH_FENCED when refused. */
  exec(host: string, argv: string[], o: { timeoutMs: number; stdin?: string; fence?: DriverFence | undefined }): Promise<ExecResult>;
  /** Placement with a memory reservation on the chosen host, skipping `closed`. */
  place(id: string, pool: string, needMb: number, fence: DriverFence | undefined, closed: ReadonlySet<string>): Promise<string>;
  /** Drop a reservation place() made. */
  unreserve(id: string, host: string, fence: DriverFence | undefined): Promise<void>;
}

/** The dom0s a guest on `from` may move to live: same storage group, not `from`. Pure. */
export function migrationPeers(from: string, storageByHost: Readonly<Record<string, string>>, hosts: readonly string[]): string[] {
  const group = storageByHost[from];
  if (group === undefined) return [];
  return hosts.filter((h) => h !== from && storageByHost[h] === group);
}

/** The rendered config with its header saying the guest now lives on `host`. Pure. */
export function cfgOnHost(cfgText: string, host: string): string {
  return cfgText.replace(/^# gridhost\.host = .*$/m, `# gridhost.host = ${host}`);
}

export class LiveMigration {
  private readonly perSource = new KeyedLock();

  constructor(private readonly d: MigrationDeps) {}

  /** See Hypervisor.migrate. */
  async migrate(guest: Guest, o: { avoidHosts: readonly string[]; fence?: DriverFence }): Promise<(StepResult & { host: string }) | undefined> {
    const from = guest.meta['host'] ?? guest.host;
    const avoid = new Set(o.avoidHosts);
    const peers = migrationPeers(from, this.d.storageByHost, this.d.hostNames()).filter((h) => !avoid.has(h) && this.d.isUp(h));
    if (peers.length === 0) return undefined;
    const id = assertSafeName(guest.id);
    const domain = assertSafeName(guest.meta['domain'] ?? `gh-${id}`);
    const cfg = assertSafePath(guest.meta['cfg'] ?? `${this.d.cfgDir}/${id}.cfg`);
    const fence = o.fence;
    return this.perSource.run(from, async () => {
      const read = await this.d.exec(from, ['cat', '--', cfg], { timeoutMs: this.d.commandTimeoutMs });
      if (read.code !== 0) throw new GridhostError('GH_MIGRATE_FAILED', `${from}: cannot read ${cfg} to migrate ${domain}: ${read.stderr.trim().slice(0, 300)}`, { host: from, guest: id });
      const needMb = cfgMemoryMb(read.stdout) ?? this.d.memoryMb;
      const closed = new Set(this.d.hostNames().filter((h) => !peers.includes(h)));
      let to: string;
      try {
        to = await this.d.place(id, guest.pool, needMb, fence, closed);
      } catch (e) {
        if (isGridhostError(e) && e.code === 'GH_FENCED') throw e;
        throw new GridhostError('GH_MIGRATE_FAILED', `no dom0 sharing ${from}'s storage can take ${domain}: ${isGridhostError(e) ? e.message : String(e)}`, { host: from, guest: id });
      }
      const target = this.d.migrateToByHost[to] ?? to;
      try {
        const r = await this.d.exec(from, [this.d.xlPath, 'migrate', domain, target], { timeoutMs: this.d.migrateTimeoutMs, fence });
        if (r.code !== 0) {
          throw new GridhostError('GH_MIGRATE_FAILED', `${from}: xl migrate ${domain} ${target} failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}; it still runs on ${from}`, { host: from, to, guest: id, exitCode: r.code });
        }
      } finally {
        // The domain exists on the target now (or the migration failed): the reservation is done.
        await this.d.unreserve(id, to, fence).catch(() => undefined);
      }
      // It runs on the target now, whatever follows: from here nothing throws, or the caller
      // would replace a guest that moved and leave it running where no record says it is.
      // The rendered config follows the guest (a restart finds it on its new dom0).
      const text = cfgOnHost(read.stdout, to);
      const wrote = await this.d.exec(to, ['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv -f "$1.tmp" "$1"', 'sh', cfg], { timeoutMs: this.d.commandTimeoutMs, stdin: text, fence }).catch(() => undefined);
      if (wrote?.code === 0) await this.d.exec(from, ['rm', '-f', '--', cfg], { timeoutMs: this.d.commandTimeoutMs, fence }).catch(() => undefined);
      const id2 = await this.d.exec(to, [this.d.xlPath, 'domid', domain], { timeoutMs: this.d.commandTimeoutMs }).catch(() => undefined);
      const meta: Record<string, string> = { host: to };
      if (id2?.code === 0 && /^\d+$/.test(id2.stdout.trim())) meta['domid'] = id2.stdout.trim();
      return { host: to, meta };
    });
  }
}
