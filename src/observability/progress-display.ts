// `gridhost run` on a terminal: one live line per guest being launched (cloning, booting,
// waiting for health, joining the balancer, with the time spent so far), kept below the log;
// plain log lines scroll above it. Off a terminal (a pipe, the journal) none of this exists and
// the log is plain JSON or text lines.
import { Writable } from 'node:stream';
import type { GuestStepReport, HookReport, PoolGaugeReport, RepairReport, ScaleEventReport, SickReport, Telemetry } from '../controller/telemetry.ts';
import type { MetricValues } from '../domain/types.ts';

/** What a launch is doing while the step named by the lifecycle runs. */
const PHASE_OF_STEP: Record<string, string> = {
  clone: 'cloning',
  boot: 'booting',
  health: 'waiting for health',
  register: 'joining the balancer',
};
const PHASES = ['cloning', 'booting', 'waiting for health', 'joining the balancer'];

interface Launch {
  pool: string;
  guest: string;
  phase: string;
  since: number;
  startedAt: number;
}

export interface ProgressOptions {
  /** The terminal. */
  out: { write(s: string): unknown; columns?: number };
  now?: () => number;
  /** Redraw every this long so elapsed times move (default 1 s; 0: only on changes). */
  refreshMs?: number;
}

const CLEAR_LINE = '\x1b[2K';
const up = (n: number) => (n > 0 ? `\x1b[${n}A` : '');

export class ProgressDisplay {
  private readonly launches = new Map<string, Launch>();
  /** Lines of the block currently on screen, below the cursor's log position. */
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    this.now = o.now ?? Date.now;
  }

  /** A stream for the logger: each line it writes goes above the progress block. */
  logStream(): Writable & { isTTY: true } {
    const w = new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        this.print(String(chunk));
        cb();
      },
    }) as Writable & { isTTY: true };
    w.isTTY = true;
    return w;
  }

  /** A log line (or several): printed above the block, which is then drawn again. */
  print(text: string): void {
    this.o.out.write(this.erase() + (text.endsWith('\n') ? text : `${text}\n`) + this.render());
  }

  stepStarted(pool: string, guest: string, action: string): void {
    const phase = PHASE_OF_STEP[action];
    if (phase === undefined) return;
    const now = this.now();
    const l = this.launches.get(guest);
    if (l) {
      l.phase = phase;
      l.since = now;
    } else {
      this.launches.set(guest, { pool, guest, phase, since: now, startedAt: now });
    }
    this.redraw();
    this.tick();
  }

  stepEnded(r: GuestStepReport): void {
    const l = this.launches.get(r.guest);
    if (!l) return;
    const secs = ((this.now() - l.startedAt) / 1000).toFixed(1);
    if (r.to === 'failed') {
      this.launches.delete(r.guest);
      this.print(`${r.guest}: launch failed while ${l.phase} after ${secs}s: ${r.error?.message ?? 'unknown error'}`);
    } else if (r.action === 'register' && r.to === 'healthy') {
      this.launches.delete(r.guest);
      this.print(`${r.guest}: in the balancer after ${secs}s`);
    }
    this.tick();
  }

  /** The block as text: one line per launch, e.g. `web-3f2a9c1d  [##··]  waiting for health  4s`. */
  render(): string {
    const now = this.now();
    // A pseudo-terminal may report 0 columns: treat that as unknown.
    const width = (this.o.out.columns ?? 0) >= 20 ? this.o.out.columns! : 100;
    const lines = [...this.launches.values()].map((l) => {
      const step = PHASES.indexOf(l.phase) + 1;
      const bar = `[${'#'.repeat(step)}${'·'.repeat(PHASES.length - step)}]`;
      const line = `${l.guest}  ${bar}  ${l.phase}  ${Math.floor((now - l.since) / 1000)}s (${Math.floor((now - l.startedAt) / 1000)}s in all)`;
      return line.length > width - 1 ? line.slice(0, width - 1) : line;
    });
    this.drawn = lines.length;
    return lines.map((l) => `${CLEAR_LINE}${l}\n`).join('');
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.o.out.write(this.erase());
  }

  /** Move up over the block and clear it. */
  private erase(): string {
    const n = this.drawn;
    this.drawn = 0;
    return n > 0 ? `${up(n)}\x1b[J` : '';
  }

  private redraw(): void {
    this.o.out.write(this.erase() + this.render());
  }

  private tick(): void {
    const every = this.o.refreshMs ?? 1000;
    if (this.launches.size > 0 && !this.timer && every > 0) {
      this.timer = setInterval(() => this.redraw(), every);
      this.timer.unref();
    } else if (this.launches.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** Telemetry that also feeds the progress display; everything else goes to `inner` unchanged. */
export class ProgressTelemetry implements Telemetry {
  constructor(private readonly inner: Telemetry, private readonly display: ProgressDisplay) {}

  guestStepStarted(r: { pool: string; guest: string; action: string }): void {
    this.inner.guestStepStarted?.(r);
    this.display.stepStarted(r.pool, r.guest, r.action);
  }

  guestStep(r: GuestStepReport): void {
    this.inner.guestStep(r);
    this.display.stepEnded(r);
  }

  hook(r: HookReport): void { this.inner.hook(r); }
  scaleEvent(r: ScaleEventReport): void { this.inner.scaleEvent(r); }
  provisioned(pool: string, outcome: 'ok' | 'failed', seconds: number): void { this.inner.provisioned(pool, outcome, seconds); }
  retired(pool: string, outcome: 'ok' | 'failed', seconds: number): void { this.inner.retired(pool, outcome, seconds); }
  poolGauges(r: PoolGaugeReport): void { this.inner.poolGauges(r); }
  guestValues(pool: string, guest: string, values: MetricValues): void { this.inner.guestValues(pool, guest, values); }
  forgetGuest(pool: string, guest: string): void { this.inner.forgetGuest(pool, guest); }
  forgetPool(pool: string): void { this.inner.forgetPool(pool); }
  evaluationError(pool: string, err: unknown): void { this.inner.evaluationError(pool, err); }
  launchFailure(pool: string, err: unknown): void { this.inner.launchFailure(pool, err); }
  breaker(pool: string, open: boolean, detail: string): void { this.inner.breaker(pool, open, detail); }
  poolBlocked(pool: string, blocked: { code: string; message: string } | undefined): void { this.inner.poolBlocked(pool, blocked); }
  guestSick(r: SickReport): void { this.inner.guestSick(r); }
  repair(r: RepairReport): void { this.inner.repair(r); }
  replaced(pool: string, cause: 'gone' | 'health', outcome: 'done' | 'failed'): void { this.inner.replaced(pool, cause, outcome); }
  info(msg: string, fields?: Record<string, unknown>): void { this.inner.info(msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.inner.warn(msg, fields); }
  error(msg: string, fields?: Record<string, unknown>): void { this.inner.error(msg, fields); }
}
