// The commands every part of the Xen driver runs on a dom0 over SSH: argv behind the pool's
// fence when the call carries one (dom0-fence.ts), the fence's refusal as GH_FENCED, a non-zero
// exit as the step's error code; and the dom0 reads they share (`xl list -l`, the `# gridhost.*`
// headers of the rendered configs), the domain names and the guest networks.
import type { DriverFence } from '../hypervisor/hypervisor.ts';
import { GridhostError } from '../../errors/errors.ts';
import { assertSafeName } from '../ssh/shell-quote.ts';
import { fencedArgv, fencedReason, isFencedRefusal } from './dom0-fence.ts';
import type { GuestNetwork } from './guest-network.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import type { XenHosts } from './xen-hosts.ts';
import { parseCfgHeader } from './xl-cfg.ts';
import { isNoSuchDomain, parseXlListLong, type XlDomain } from './xl-parse.ts';

export class Dom0Commands {
  constructor(
    readonly hosts: XenHosts,
    private readonly o: XenDriverSettings,
  ) {}

  domainName(guestId: string): string {
    return `${this.o.namePrefix}${assertSafeName(guestId)}`;
  }

  /** The dom0's guest network. */
  networkOf(host: string): GuestNetwork {
    return this.o.networkByHost[host] ?? this.o.network;
  }

  /** ip:port of a guest from its config header (the port it was cloned with; older headers have none). */
  addressOf(host: string, header: Record<string, string>): string | undefined {
    return header['ip'] ? `${header['ip']}:${header['port'] ?? this.networkOf(host).port}` : undefined;
  }

  /** Run and require exit 0; a non-zero exit becomes `failCode` with xl's/the tool's stderr. */
  async run(host: string, argv: string[], failCode: 'GH_CLONE_FAILED' | 'GH_BOOT_FAILED' | 'GH_COMMAND_FAILED', o: { timeoutMs?: number; stdin?: string; fence?: DriverFence | undefined } = {}) {
    const opts: { timeoutMs: number; stdin?: string } = { timeoutMs: o.timeoutMs ?? this.o.commandTimeoutMs };
    if (o.stdin !== undefined) opts.stdin = o.stdin;
    const r = await this.hosts.exec(host, this.fenced(o.fence, argv), opts);
    this.throwIfFenced(host, r);
    if (r.code !== 0) {
      throw new GridhostError(failCode, `${host}: \`${argv.join(' ')}\` failed (exit ${r.code}): ${r.stderr.trim().slice(0, 500) || '(no error output)'}`, {
        host,
        exitCode: r.code,
      });
    }
    return r;
  }

  /** `argv` behind the pool's fence on dom0 when the call carries one (dom0-fence.ts). */
  fenced(fence: DriverFence | undefined, argv: string[]): string[] {
    return fence ? fencedArgv(`${this.o.cfgDir}/.fence`, fence, argv) : argv;
  }

  /** The fence's refusal is GH_FENCED, whatever the step: nothing was done. */
  throwIfFenced(host: string, r: { code: number | null; stderr: string }): void {
    if (isFencedRefusal(r)) throw new GridhostError('GH_FENCED', `${host}: ${fencedReason(r.stderr)}; nothing was done`, { host });
  }

  async bestEffort(host: string, argv: string[], fence?: DriverFence): Promise<void> {
    try {
      await this.hosts.exec(host, this.fenced(fence, argv), { timeoutMs: this.o.commandTimeoutMs });
    } catch {
      // the caller is already failing; its meta (or discover) names what may remain
    }
  }

  async destroyQuietly(host: string, domain: string, fence?: DriverFence): Promise<void> {
    const r = await this.hosts.exec(host, this.fenced(fence, [this.o.xlPath, 'destroy', domain]), { timeoutMs: this.o.destroyTimeoutMs });
    this.throwIfFenced(host, r);
    if (r.code !== 0 && !isNoSuchDomain(r.stderr)) {
      throw new GridhostError('GH_STOP_FAILED', `${host}: xl destroy ${domain} failed (exit ${r.code}): ${r.stderr.trim()}`, { host, domain });
    }
  }

  /** Whether a process whose command line contains `text` runs on the host. */
  async processRunning(host: string, text: string): Promise<boolean> {
    return (await this.hosts.exec(host, ['bash', '-c', FIND_PROCESS], { stdin: `${text}\n`, timeoutMs: this.o.commandTimeoutMs })).code === 0;
  }

  /** Poll `xl list <domain>` until xl says it does not exist (a shut-down domain lingers 2-3 s). */
  async waitGone(host: string, domain: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.hosts.exec(host, [this.o.xlPath, 'list', domain], { timeoutMs: this.o.commandTimeoutMs });
      if (r.code !== 0 && isNoSuchDomain(r.stderr)) return true;
      if (Date.now() >= deadline) return false;
      await this.o.sleep(250);
    }
  }

  async listDomains(host: string): Promise<XlDomain[]> {
    const r = await this.run(host, [this.o.xlPath, 'list', '-l'], 'GH_COMMAND_FAILED');
    return parseXlListLong(r.stdout);
  }

  /** Guest id -> `# gridhost.*` header of every config in cfgDir. */
  async readCfgHeaders(host: string): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    for (const [id, c] of await this.readCfgs(host, 'grep "^# gridhost\\." "$f"')) out.set(id, c.header);
    return out;
  }

  /** Guest id -> header and size lines (vcpus, maxvcpus, memory, maxmem: its template's size) of
   *  every config in cfgDir; `lines` is for xen-resize.ts's cfgSize. */
  readCfgHeadersAndSize(host: string): Promise<Map<string, { header: Record<string, string>; lines: string }>> {
    return this.readCfgs(host, 'grep -E "^# gridhost\\.|^[[:space:]]*(vcpus|maxvcpus|memory|maxmem)[[:space:]]*=" "$f"');
  }

  /** The lines `grep` (a command on "$f") picks from each config in cfgDir, by guest id. */
  private async readCfgs(host: string, grep: string): Promise<Map<string, { header: Record<string, string>; lines: string }>> {
    const script = `for f in "$1"/*.cfg; do [ -f "$f" ] || continue; echo "#### $f"; ${grep}; done; true`;
    const r = await this.run(host, ['sh', '-c', script, 'sh', this.o.cfgDir], 'GH_COMMAND_FAILED');
    const out = new Map<string, { header: Record<string, string>; lines: string }>();
    for (const chunk of r.stdout.split(/^#### /m).slice(1)) {
      const header = parseCfgHeader(chunk);
      const nl = chunk.indexOf('\n');
      const file = chunk.slice(0, nl);
      const id = header['guest'] ?? file.slice(file.lastIndexOf('/') + 1).replace(/\.cfg$/, '');
      out.set(id, { header, lines: nl < 0 ? '' : chunk.slice(nl + 1) });
    }
    return out;
  }
}

/**
 * Exit 0 if a process's command line contains the text read from stdin. Builtins only (dom0s
 * need not have pgrep: the lab's has not; every fork is dear in an emulated dom0), and the text
 * never reaches this script's own command line, so it cannot find itself.
 */
const FIND_PROCESS = `read -r t || exit 1
for f in /proc/[0-9]*/cmdline; do
  mapfile -d '' a < "$f" 2>/dev/null || continue
  case "\${a[*]}" in *"$t"*) exit 0;; esac
done
exit 1`;
