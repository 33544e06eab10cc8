// HTTP health checks of a guest (the controller polls `http://<address><healthPath>`).
// Healthy means a 2xx answer; anything else (other status, refused, timeout) is not healthy.
import type http from 'node:http';
import axios from 'axios';
import { GridhostError } from '../../errors/errors.ts';

/**
 * One check: resolves true on a 2xx answer within `timeoutMs`, false otherwise. Never rejects.
 * `agent` opens the connection another way (a guest behind its dom0: see drivers/guest-net).
 */
export async function checkHealth(url: string, timeoutMs: number, signal?: AbortSignal, agent?: http.Agent): Promise<boolean> {
  try {
    const res = await axios.get(url, {
      ...(agent ? { httpAgent: agent } : {}),
      timeout: timeoutMs,
      signal,
      validateStatus: () => true,
      responseType: 'text',
      maxRedirects: 0,
      // A fresh connection per check: a keep-alive socket to a dead guest must not fake health.
      headers: { connection: 'close' },
    });
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

export interface WaitHealthyOptions {
  /** Give up after this long (GH_HEALTH_TIMEOUT). */
  timeoutMs: number;
  /** Pause between checks. Default 200 ms. */
  intervalMs?: number;
  /** Longest single check. Default min(2 s, timeoutMs). */
  checkTimeoutMs?: number;
  /** Abort the wait (rejects with GH_HEALTH_TIMEOUT, details.aborted = true). */
  signal?: AbortSignal;
  /** Reach the guest through this agent (e.g. over its dom0's SSH); default: directly. */
  agent?: http.Agent;
}

/** Polls `url` until it answers 2xx. Rejects with GH_HEALTH_TIMEOUT when time runs out or on abort. */
export async function waitHealthy(url: string, opts: WaitHealthyOptions): Promise<void> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  const checkTimeout = opts.checkTimeoutMs ?? Math.min(2000, opts.timeoutMs);
  let checks = 0;
  for (;;) {
    if (opts.signal?.aborted) throw aborted(url, checks);
    const left = deadline - Date.now();
    if (left <= 0) break;
    checks++;
    if (await checkHealth(url, Math.max(1, Math.min(checkTimeout, left)), opts.signal, opts.agent)) return;
    const pause = Math.min(interval, deadline - Date.now());
    if (pause <= 0) break;
    await sleep(pause, opts.signal);
  }
  if (opts.signal?.aborted) throw aborted(url, checks);
  throw new GridhostError('GH_HEALTH_TIMEOUT', `${url} did not answer 2xx within ${opts.timeoutMs} ms (${checks} checks); see the guest's log`, {
    url,
    timeoutMs: opts.timeoutMs,
    checks,
  });
}

function aborted(url: string, checks: number): GridhostError {
  return new GridhostError('GH_HEALTH_TIMEOUT', `waiting for ${url} to become healthy was aborted`, { url, checks, aborted: true });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
