// What the HAProxy driver keeps per pool (its backend, its checks, the servers gridhost wants
// there and whether they are in HAProxy yet, what blocks it) and the changes it reports.
import type { GridhostError } from '../../../errors/errors.ts';
import type { ServerCheck } from './runtime-api.ts';
import type { WantedServer } from './server-plan.ts';

/** A check a second, up after 2 passing and down after 2 failing (HAProxy's own: 2s, 2, 3). */
export const DEFAULT_CHECK: ServerCheck = Object.freeze({ interMs: 1000, rise: 2, fall: 2 });

export interface HaproxyPoolSettings {
  /** The pool's backend in haproxy.cfg. */
  backend: string;
  /** HAProxy's `inter`, `rise`, `fall` for the pool's servers (`timeout check` is haproxy.cfg's). */
  check: ServerCheck;
}

export type HaproxyChangeKind = 'blocked' | 'unblocked' | 'added' | 'readded' | 'drain' | 'removed' | 'restarted' | 'tcp-check-only';

export interface HaproxyChange {
  kind: HaproxyChangeKind;
  pool?: string;
  backend?: string;
  id?: string;
  /** Guests re-added after a reload. */
  ids?: string[];
  error?: { code: string; message: string };
  detail?: string;
}

export interface Wanted extends WantedServer {
  /** add() (or a re-add) ran to the end: the server is in HAProxy with health checks and its admin state. */
  confirmed: boolean;
}

export interface PoolEntry {
  pool: string;
  backend: string;
  check: ServerCheck;
  wanted: Map<string, Wanted>;
  /** Names carrying the prefix that gridhost found it did not create: never touched. */
  foreign: Set<string>;
  blocked?: GridhostError;
  /** A guest HAProxy cannot reach was offered (its route goes through a dom0): gridhost's
   *  configuration must change, so this block lasts until gridhost restarts. */
  unroutable?: GridhostError;
  /** Whether the backend's checks were seen to be HTTP (L7) or only TCP (L4), once known. */
  checkLayer?: 'L7' | 'L4';
  /** HAProxy's numeric id of the backend, once seen (show stat reads that proxy alone). */
  backendId?: number;
}

/** Reports a change to the driver's listener (a broken listener never breaks registration). */
export type Emit = (c: HaproxyChange) => void;
