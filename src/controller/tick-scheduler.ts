// When a pool loop's ticks run. They never overlap: the next is scheduled only when the previous
// one has finished, keeping the sampling cadence (a slow tick shortens the wait, never
// overlaps). A poke asks for a tick now; during a tick, for the next one right after it.
import type { Clock } from './clock.ts';

export class TickScheduler {
  private running = false;
  private cancelTimer?: () => void;
  private tickRunning?: Promise<void>;
  /** A tick was asked for while one was running: run the next one right after it. */
  private poked = false;

  constructor(
    private readonly clock: Clock,
    private readonly tick: () => Promise<void>,
    private readonly intervalMs: () => number,
    /** Called as each tick ends, before the next is scheduled; `running` false once stopped. */
    private readonly ended: (running: boolean) => void,
  ) {}

  /** A method, not a field read, because stop() can run while a tick awaits. */
  isRunning(): boolean {
    return this.running;
  }

  /** The tick in progress, if any. */
  current(): Promise<void> | undefined {
    return this.tickRunning;
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  /** No more ticks; one in progress finishes (await current()). */
  stop(): void {
    this.running = false;
    this.cancelTimer?.();
  }

  poke(): void {
    if (!this.running) return;
    if (this.tickRunning) {
      this.poked = true;
      return;
    }
    this.cancelTimer?.();
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.cancelTimer = this.clock.setTimer(ms, () => {
      const started = this.clock.now();
      this.tickRunning = this.tick().finally(() => {
        this.tickRunning = undefined;
        this.ended(this.running);
        if (this.running) {
          const poked = this.poked;
          this.poked = false;
          this.schedule(poked ? 0 : Math.max(0, this.intervalMs() - (this.clock.now() - started)));
        }
      });
    });
  }
}
