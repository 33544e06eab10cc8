// Inputs and outputs of the pure decision core (src/decision/decide.ts).
import type { Decision, Guest, PoolSample } from '../domain/types.ts';

export interface Recommendation {
  at: number;
  desired: number;
}

/** Everything decide() may look at. Built by the controller from the store and the samplers. */
export interface PoolView {
  /** The pool's guests that are not gone/failed. */
  guests: readonly Guest[];
  /** Recent ticks, oldest first (the controller keeps `sampling.window` of them). */
  samples: readonly PoolSample[];
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  /** Earlier unclamped recommendations, for the scale-in stabilization window. */
  recommendations: readonly Recommendation[];
}

export interface DecideResult {
  decision: Decision;
  /** Recommendation to remember for the stabilization window (absent when there was none). */
  recommendation?: Recommendation;
}
