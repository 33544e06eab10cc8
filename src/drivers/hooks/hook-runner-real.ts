// The real lifecycle hook runner (see hook-runner.ts for the role and its error contract).
//  - command: spawned directly with its argument array (placeholders filled in, never a shell),
//    in its own process group, with a minimal environment (hookEnv: a fixed PATH, the guest's
//    facts, none of gridhost's variables); exit 0 is success. On timeout the whole group gets
//    SIGTERM, then SIGKILL after a short grace, so nothing it started outlives it.
//  - http: one request through axios with the timeout, no redirects followed, a JSON body
//    {hook, guest: {id, pool, address, host}}; a 2xx answer is success.
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import axios from 'axios';
import type { CommandHook, Hook, HttpHook } from '../../domain/policy.ts';
import { assertNever } from '../../domain/types.ts';
import type { HookContext, HookResult, HookRunner } from './hook-runner.ts';
import { hookEnv, renderArg, renderUrl } from './hook-placeholders.ts';

/** The PATH a command hook gets: the usual system directories and the node running gridhost. */
export const HOOK_PATH = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
  .filter((d, i, all) => all.indexOf(d) === i).join(':');

const STDERR_KEEP = 2048;
const KILL_GRACE_MS = 2000;
const MAX_BODY = 64 * 1024;

export interface RealHookRunnerOptions {
  /** Working directory of command hooks (the templates folder). */
  cwd: string;
  now?: () => number;
}

export class RealHookRunner implements HookRunner {
  private readonly now: () => number;

  constructor(private readonly o: RealHookRunnerOptions) {
    this.now = o.now ?? Date.now;
  }

  async run(hook: Hook, ctx: HookContext): Promise<HookResult> {
    const started = this.now();
    const done = (r: Omit<HookResult, 'durationMs'>): HookResult => ({ ...r, durationMs: this.now() - started });
    switch (hook.kind) {
      case 'command':
        return done(await this.command(hook, ctx));
      case 'http':
        return done(await this.http(hook, ctx));
      default:
        return assertNever(hook, 'hook');
    }
  }

  private command(hook: CommandHook, ctx: HookContext): Promise<Omit<HookResult, 'durationMs'>> {
    const [cmd, ...args] = hook.command.map((a) => renderArg(a, ctx));
    return new Promise((resolve) => {
      let stderr = '';
      let timedOut = false;
      let settled = false;
      const finish = (r: Omit<HookResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(killTimer);
        resolve(r);
      };
      const child = spawn(cmd!, args, { cwd: this.o.cwd, env: hookEnv(ctx, HOOK_PATH), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      const killGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          /* already gone */
        }
      };
      let killTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      }, hook.timeoutMs);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderr = (stderr + d).slice(-STDERR_KEEP);
      });
      child.once('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: `could not start ${cmd}: ${e.code ?? e.message}` }));
      child.once('close', (code, signal) => {
        // Whatever it left running in its group goes with it.
        killGroup('SIGKILL');
        if (timedOut) return finish({ ok: false, timedOut: true, detail: `timed out after ${hook.timeoutMs} ms (killed)` });
        const last = lastLine(stderr);
        if (code === 0) return finish({ ok: true, detail: 'exit 0' });
        const how = code !== null ? `exit ${code}` : `killed by ${signal}`;
        finish({ ok: false, detail: last ? `${how}: ${last}` : how });
      });
    });
  }

  private async http(hook: HttpHook, ctx: HookContext): Promise<Omit<HookResult, 'durationMs'>> {
    const body = { hook: ctx.hook, guest: { id: ctx.guest, pool: ctx.pool, address: ctx.address, host: ctx.host } };
    try {
      const res = await axios.request({
        method: hook.method,
        url: renderUrl(hook.url, ctx),
        headers: { ...hook.headers, 'content-type': 'application/json' },
        ...(hook.method === 'GET' ? {} : { data: body }),
        timeout: hook.timeoutMs,
        // The connect phase too: axios' timeout alone starts with the socket.
        signal: AbortSignal.timeout(hook.timeoutMs),
        maxRedirects: 0,
        maxContentLength: MAX_BODY,
        responseType: 'text',
        transformResponse: (d: unknown) => d,
        validateStatus: () => true,
      });
      const ok = res.status >= 200 && res.status < 300;
      return { ok, detail: `HTTP ${res.status}` };
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      if (err.code === 'ECONNABORTED' || err.code === 'ERR_CANCELED' || err.name === 'CanceledError' || err.name === 'TimeoutError') {
        return { ok: false, timedOut: true, detail: `timed out after ${hook.timeoutMs} ms` };
      }
      return { ok: false, detail: `request failed: ${err.code ?? err.message ?? String(e)}` };
    }
  }
}

/** The last non-empty line, cut to 200 characters (what an operator needs to see why). */
function lastLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const l = lines[lines.length - 1] ?? '';
  return l.length > 200 ? `${l.slice(0, 200)}...` : l;
}
