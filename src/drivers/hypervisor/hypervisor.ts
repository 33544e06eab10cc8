// The hypervisor ("target") role: make, start, stop and unmake guests. One implementation per
// virtualisation backend: local processes (the embedded default) and Xen's xl over SSH.
//
// The controller records the guest's state in the store *before* calling each step, and passes
// the `meta` returned by earlier steps to later ones, so every step can be retried or undone
// after a crash from the stored guest alone.
//
// Error contract (every method):
//  - rejects only with GridhostError; the code says which step failed:
//    clone -> GH_CLONE_FAILED | GH_OUT_OF_CAPACITY | GH_TEMPLATE_INVALID
//    boot  -> GH_BOOT_FAILED | GH_NAME_IN_USE | GH_OUT_OF_CAPACITY | GH_TEMPLATE_INVALID | GH_SCHED_FAILED
//             (the policy's scheduler parameters could not be set)
//    reapply (optional) -> GH_SCHED_FAILED
//    stop  -> GH_STOP_FAILED (only when the guest may still be running after the forced stop)
//    deleteClone -> GH_CLONE_FAILED
//    pause / unpause (optional) -> GH_BOOT_FAILED (the guest is gone, or its driver refused)
//    any   -> GH_FENCED when the call carries a fence and the host has seen a newer lease of
//             the pool act there (a driver that fences on the host itself: xen, dom0-fence.ts);
//             nothing was done. The caller has been deposed: it stops acting on the pool.
//    any   -> GH_HOST_UNREACHABLE | GH_COMMAND_TIMEOUT for transport failures (GH_HOST_KEY_MISMATCH when
//             every host refused for its pinned key)
//  - a failed clone or boot leaves nothing behind that its own meta does not name: the
//    controller then calls stop() and deleteClone() with that meta to clean up.
//  - stop() and deleteClone() are idempotent: a guest or clone that is already gone is success.
//  - stop() stops a paused guest too, without waiting out the graceful timeout (a paused guest
//    cannot answer a shutdown request).
import type { Guest, HostSample } from '../../domain/types.ts';
import type { Policy } from '../../domain/policy.ts';
import type { SourceDigest } from '../../decision/rollout-plan.ts';

export interface GuestSpec {
  /** Guest id; safe for shells and paths (validated by the controller). */
  id: string;
  pool: string;
  policy: Policy;
  /** The pool leader's lease: drivers refuse to act for an older one (see DriverFence). */
  fence?: DriverFence;
  /** Hosts closed for placement (drain-host): clone() places the guest on none of them, and
   *  fails with GH_OUT_OF_CAPACITY when no other host can take it. */
  avoidHosts?: readonly string[];
}

/**
 * The lease a driver action is taken under. Drivers that change remote hosts check it there
 * (the xen driver: dom0-fence.ts), so a deposed leader's command is refused even when the store
 * cannot see it; a lease is newer when taken later, then by token. Absent outside leadership
 * (tests, the CLI's stop-guests): unfenced.
 */
export interface DriverFence {
  pool: string;
  token: number;
  holder: string;
  /** When the lease was taken (store clock, epoch ms). */
  acquiredAt: number;
}

export interface StepResult {
  /** Facts to merge into the guest's meta (stored before the next step). */
  meta: Record<string, string>;
  /** Host the guest lives on, once chosen. */
  host?: string;
  /** host:port of the guest's service, once known. */
  address?: string;
}

/** A guest the driver found running, for adoption after a restart. */
export interface DiscoveredGuest {
  id: string;
  pool: string;
  host: string;
  address?: string;
  meta: Record<string, string>;
  running: boolean;
  /** A running guest's size, for a driver that can resize (guest.vertical): adoption records it
   *  as a launch records its template's, so vertical steps can resize an adopted guest too. */
  size?: DiscoveredSize;
}

/** What the host reports of a running guest now (vCPUs online, memory target) and at most (the
 *  maxvcpus/maxmem its domain was made with), and the size it was made at (its template's: a
 *  step down goes no lower). MiB. */
export interface DiscoveredSize {
  vcpus: number;
  maxVcpus: number;
  memoryMb: number;
  maxMemoryMb: number;
  baseVcpus: number;
  baseMemoryMb: number;
}

export interface Hypervisor {
  readonly name: string;
  /** The hosts this driver places guests on, by the names guests record (drain-host takes them). */
  hostNames(): readonly string[];
  /** Pick a host and clone the base image for the guest. */
  clone(spec: GuestSpec): Promise<StepResult>;
  /** Start the guest from its clone. Resolves once it is started (not necessarily healthy). */
  boot(spec: GuestSpec, meta: Record<string, string>): Promise<StepResult>;
  /** Stop the guest: graceful first, forced after `timeoutMs`. Idempotent. */
  stop(guest: Guest, timeoutMs: number, fence?: DriverFence): Promise<void>;
  /** Delete the guest's clone and any rendered config. Idempotent. */
  deleteClone(guest: Guest, fence?: DriverFence): Promise<void>;
  /**
   * Move a running guest live to another host (Xen: `xl migrate`), for host evacuation. Resolves
   * undefined, having done nothing, when this guest cannot be moved live (no host in `avoidHosts`'
   * complement shares its storage, or the driver has live migration switched off); else with
   * where it runs now (host, meta to merge, address if it changed). Rejects with GH_MIGRATE_FAILED
   * (the guest still runs where it was), GH_FENCED or the transport codes. Optional.
   */
  migrate?(guest: Guest, o: { policy: Policy; avoidHosts: readonly string[]; fence?: DriverFence }): Promise<(StepResult & { host: string }) | undefined>;
  /**
   * Vertical first (policy guest.vertical, controller/vertical.ts): set a running guest's vCPUs
   * and memory (MiB) within what its config allows (Xen: `xl vcpu-set`, `xl mem-set`, up to the
   * template's maxvcpus/maxmem). Resolves with meta to merge: the size now (decision/vertical-step.ts
   * SIZE_META). Rejects only with GridhostError: GH_RESIZE_FAILED (the guest still runs; when part
   * of the step was applied, details.meta is the size it has now), GH_FENCED or the transport codes.
   * Drivers without it cannot have guest.vertical (refused at policy load). Optional.
   */
  resize?(guest: Guest, size: { vcpus: number; memoryMb: number }, fence?: DriverFence): Promise<StepResult>;
  /** Guests this driver can see running (or leftover clones), for reconciliation at start-up. */
  discover(): Promise<DiscoveredGuest[]>;
  /** Release connections and child handles (guests keep running). */
  close(): Promise<void>;
  /**
   * False when the host stopped answering (marked down by the driver). Its guests then count
   * as lost for their pool's size, so the pool is rebuilt elsewhere; they are not destroyed,
   * and count again if the host comes back. Drivers without remote hosts leave it out.
   */
  hostUp?(host: string): boolean;
  /**
   * Which of these guests (all of this driver) are known to be gone: their process or domain
   * no longer exists although the store says they serve (killed from outside, crashed). Guests
   * it could not look at (host down) are left out: unknown is not gone. Rejects only with
   * GridhostError (transport codes); callers then know nothing new. Cheap: called every tick.
   */
  gone?(guests: readonly Guest[]): Promise<Set<string>>;
  /**
   * What a guest of `policy` made on `host` now would be made from: the digests of its template
   * and base image, as the driver records them in each guest's meta (`templateDigest`,
   * `imageDigest`, set by clone or boot from exactly what they used). A rollout compares the
   * two (decision/rollout-plan.ts). Rejects only with GridhostError: GH_TEMPLATE_INVALID (the
   * template or image cannot be read) or the transport codes. Drivers without it have no rollout.
   */
  sourceDigest?(policy: Policy, host: string): Promise<SourceDigest>;
  /**
   * The warm pool (policy `warm_pool`, controller/warm-pool.ts): freeze a booted guest that has
   * passed its health check, keeping its memory, so unpause() brings it back serving within a
   * fraction of a second instead of a clone and boot. Local: SIGSTOP to its process group; Xen:
   * `xl pause`. Resolves with meta to merge (`paused: '1'`). Rejects only with GridhostError:
   * GH_BOOT_FAILED (gone, or refused), GH_FENCED or the transport codes. Drivers without pause and unpause
   * cannot have a warm pool: a policy with one is refused at load (PolicyOptions.pausable).
   */
  pause?(guest: Guest, fence?: DriverFence): Promise<StepResult>;
  /** Let a paused guest run again (SIGCONT; `xl unpause`). A guest that is not paused is success.
   *  Resolves with meta to merge (`paused: '0'`); rejects as pause() does. */
  unpause?(guest: Guest, fence?: DriverFence): Promise<StepResult>;
  /**
   * That the guest's address is answered by the guest itself, not by another process holding it
   * (local: the socket listening at its port belongs to its process group; a guest that let its
   * port go, or died, leaves it to whoever binds it next). Called after a health check passes, so
   * no other process's answer counts as the guest's. Rejects with GH_HEALTH_TIMEOUT saying who
   * holds the address. Drivers whose guests' addresses are their own (xen: the domain's IP) leave it out.
   */
  verifyAddress?(guest: Guest): Promise<void>;
  /**
   * Each host's CPU use over all its domains (0-1 of its CPUs) and free memory now, for policy
   * contention (decision/host-contention.ts). Hosts that are down are left out; a host that
   * answered but could not be measured has the facts it could give. Never rejects: what it
   * could not learn is simply absent. Cached briefly, as every pool on the driver asks each tick.
   */
  hostFacts?(): Promise<HostSample[]>;
  /**
   * What boot() sets on a guest from its policy (Xen: guest.credit's weight and cap), set again
   * on a running guest gridhost takes up after a restart or as a new leader: settings of a
   * domain are not in its config file, so nothing else keeps them the policy's. Resolves with
   * meta to merge (what was applied). Rejects only with GH_SCHED_FAILED, GH_FENCED or the transport codes.
   */
  reapply?(guest: Guest, policy: Policy, fence?: DriverFence): Promise<Record<string, string>>;
}

/** Whether a driver can keep a warm pool (both halves of the capability). */
export function canPause(hv: Hypervisor): hv is Hypervisor & Required<Pick<Hypervisor, 'pause' | 'unpause'>> {
  return typeof hv.pause === 'function' && typeof hv.unpause === 'function';
}
