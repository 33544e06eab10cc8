// One `xentop -b -f -d 1 -i 2` per dom0 for everyone who asks at once. With policy contention a
// tick asks twice per dom0, in parallel (pool-sampler.ts): the guests' CPU (XentopSource) and the
// dom0's own CPU use (HostUsage); each run holds an SSH channel and a second of a dom0 that may
// be busy. A run is shared while it is in flight and for `shareMs` after it started; a caller
// after that starts a new one, so a source sampled every tick never gets the last tick's figures
// (a real run takes over a second: in practice only the run in flight is shared).
import type { ExecResult } from '../ssh/ssh-connection.ts';
import type { XenHosts } from './xen-hosts.ts';

/** xentop's arguments: batch, full names, two iterations 1 s apart (the second has the CPU%). */
export const XENTOP_ARGS = ['-b', '-f', '-d', '1', '-i', '2'] as const;

export interface XentopRunsOptions {
  hosts: XenHosts;
  xentopPath: string;
  timeoutMs?: number;
  /** How long after its start a finished run is still handed out (default 1 s). */
  shareMs?: number;
  now?: () => number;
}

export class XentopRuns {
  private readonly o: Required<XentopRunsOptions>;
  private readonly last = new Map<string, { at: number; running: boolean; result: Promise<ExecResult> }>();

  constructor(opts: XentopRunsOptions) {
    this.o = { timeoutMs: 15_000, shareMs: 1_000, now: Date.now, ...opts };
  }

  /** xentop's result on `host` (XenHosts.exec's: it rejects as exec does, for every sharer). */
  run(host: string): Promise<ExecResult> {
    const now = this.o.now();
    const hit = this.last.get(host);
    if (hit && (hit.running || now - hit.at < this.o.shareMs)) return hit.result;
    const result = this.o.hosts.exec(host, [this.o.xentopPath, ...XENTOP_ARGS], { timeoutMs: this.o.timeoutMs });
    const entry = { at: now, running: true, result };
    const done = () => {
      entry.running = false;
    };
    result.then(done, done);
    this.last.set(host, entry);
    return result;
  }
}
