// Elasticity metrics of the SPEC Research Group / BUNGEE benchmark (Herbst, Kounev, Weber,
// Groenda: "BUNGEE: An Elasticity Benchmark for Self-Adaptive IaaS Cloud Environments",
// SEAMS 2015; Herbst et al.: "Ready for Rain? A View from SPEC Research on the Future of
// Cloud Metrics", SPEC RG tech report 2016). Demand d(t) and supply s(t) are step functions
// sampled on the same steps of length dt over a run of length T = n * dt:
//   accuracy_U  = sum(max(d - s, 0) * dt) / T        mean missing guests
//   accuracy_O  = sum(max(s - d, 0) * dt) / T        mean surplus guests
//   timeshare_U = sum(dt where s < d) / T            fraction of time under-provisioned
//   timeshare_O = sum(dt where s > d) / T            fraction of time over-provisioned
//   jitter      = (E_s - E_d) / T, per minute        E_x = number of changes of x;
//                 < 0: supply adapts less often than demand (sluggish), > 0: it oscillates.
// Pure functions, no I/O.

export interface ElasticityInput {
  /** Guests the load needs at each step. */
  demand: ArrayLike<number>;
  /** Guests serving at each step (what counts against demand). */
  supply: ArrayLike<number>;
  stepSeconds: number;
  /** Requests per second at each step; needed for the under-provisioned request fraction. */
  load?: ArrayLike<number>;
  /** Guests paid for at each step (booting and draining too); defaults to supply. */
  billed?: ArrayLike<number>;
  /** Scale actions taken; defaults to the number of changes of supply. */
  actions?: number;
}

export interface ElasticityMetrics {
  durationSeconds: number;
  accuracyU: number;
  accuracyO: number;
  timeshareU: number;
  timeshareO: number;
  /** Changes of demand / supply per minute. */
  demandAdaptationsPerMin: number;
  supplyAdaptationsPerMin: number;
  /** supplyAdaptationsPerMin - demandAdaptationsPerMin. */
  jitter: number;
  guestHours: number;
  scaleActions: number;
  /** Requests that arrived while supply < demand, as a fraction of all requests. */
  underProvisionedRequests: number;
}

/** Number of i with x[i] !== x[i-1]. */
export function adaptations(x: ArrayLike<number>): number {
  let n = 0;
  for (let i = 1; i < x.length; i++) if (x[i] !== x[i - 1]) n++;
  return n;
}

export function elasticity(input: ElasticityInput): ElasticityMetrics {
  const { demand, supply, stepSeconds: dt } = input;
  const n = demand.length;
  if (supply.length !== n) throw new RangeError(`demand has ${n} steps but supply has ${supply.length}`);
  if (input.load && input.load.length !== n) throw new RangeError(`demand has ${n} steps but load has ${input.load.length}`);
  if (input.billed && input.billed.length !== n) throw new RangeError(`demand has ${n} steps but billed has ${input.billed.length}`);
  if (!(dt > 0)) throw new RangeError('stepSeconds must be > 0');
  const T = n * dt;
  let under = 0;
  let over = 0;
  let tUnder = 0;
  let tOver = 0;
  let billedSum = 0;
  let reqAll = 0;
  let reqUnder = 0;
  const billed = input.billed ?? supply;
  for (let i = 0; i < n; i++) {
    const d = demand[i]!;
    const s = supply[i]!;
    if (s < d) {
      under += d - s;
      tUnder++;
    } else if (s > d) {
      over += s - d;
      tOver++;
    }
    billedSum += billed[i]!;
    if (input.load) {
      const l = input.load[i]!;
      reqAll += l;
      if (s < d) reqUnder += l;
    }
  }
  const minutes = T / 60;
  const eD = adaptations(demand);
  const eS = adaptations(supply);
  const perMin = (e: number): number => (minutes > 0 ? e / minutes : 0);
  return {
    durationSeconds: T,
    accuracyU: T > 0 ? (under * dt) / T : 0,
    accuracyO: T > 0 ? (over * dt) / T : 0,
    timeshareU: T > 0 ? (tUnder * dt) / T : 0,
    timeshareO: T > 0 ? (tOver * dt) / T : 0,
    demandAdaptationsPerMin: perMin(eD),
    supplyAdaptationsPerMin: perMin(eS),
    jitter: perMin(eS) - perMin(eD),
    guestHours: (billedSum * dt) / 3600,
    scaleActions: input.actions ?? eS,
    underProvisionedRequests: reqAll > 0 ? reqUnder / reqAll : 0,
  };
}

/** Guests the load needs: ceil(load / capacity), clamped to [min, max]. */
export function demandCurve(load: ArrayLike<number>, capacityPerGuest: number, min: number, max: number): Int32Array {
  const out = new Int32Array(load.length);
  for (let i = 0; i < load.length; i++) {
    // The epsilon keeps 320.00000000000006 / 40 from needing a 9th guest.
    const need = Math.ceil(load[i]! / capacityPerGuest - 1e-9);
    out[i] = Math.min(max, Math.max(min, need));
  }
  return out;
}
