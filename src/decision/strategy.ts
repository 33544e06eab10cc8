// The strategy role (the nomad-autoscaler model): a pure function from a rule's config, the
// aggregated samples it looks at, and the current size to an opinion with a reason.
// No clock, no I/O. `undefined` means "no opinion" (e.g. a threshold not crossed).

export interface StrategyInput<C> {
  config: C;
  /** Aggregated value per tick (oldest first); `null` where the tick had no usable value. */
  series: readonly (number | null)[];
  /** Current counted size of the pool (healthy + on the way up). */
  current: number;
  /** Of those, guests on their way up (cloning, booting): capacity coming, not yet serving. */
  coming: number;
  /** Guests whose values made up the latest tick (warmed-up healthy guests that reported the metric). */
  ready: number;
  /** Guests eligible at the latest tick (healthy and warmed up), reported or not: eligible - ready
   *  did not report (the HPA's "missing" pods); current - eligible are on their way up or warming up. */
  eligible: number;
}

export interface Opinion {
  /** Desired pool size before clamping to min/max. */
  desired: number;
  /** Why, with the numbers used, e.g. `cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)`. */
  reason: string;
}

export type Strategy<C> = (input: StrategyInput<C>) => Opinion | undefined;
