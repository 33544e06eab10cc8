// The kinds of mismatch the reconciler repairs, one repair each (documented in reconciler.ts).
// Their own module: metrics and telemetry name them without importing the reconciler.
export const REPAIR_KINDS = ['adopted', 'undone', 'finished', 'record-gone', 'unknown-guest', 'orphan-clone', 'balancer-orphan', 'balancer-missing', 'sick', 'warm-adopted'] as const;
export type RepairKind = (typeof REPAIR_KINDS)[number];
