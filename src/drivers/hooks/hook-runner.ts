// The lifecycle hook role: run an operator's command or HTTP call at a point of a guest's life
// (before it is registered with the balancer, before it is retired), with the guest's id, pool
// and address, and report how it went. Implementations: hook-runner-real.ts (a command spawned
// with an argument array and a minimal environment, never a shell; an HTTP call through axios),
// fake-hook-runner.ts for the controller's tests.
//
// Error contract: run() never rejects. Every outcome, success or not, is a HookResult; a hook
// that did not finish within its timeout is killed (its whole process group) or aborted and is
// `ok: false` with `timedOut: true`. The caller decides what a failure means (on_failure).
import type { Hook, HookName } from '../../domain/policy.ts';

/** What a hook is told about the guest (placeholders, environment, HTTP body). */
export interface HookContext {
  hook: HookName;
  guest: string;
  pool: string;
  /** host:port the guest serves on. */
  address: string;
  /** Host (dom0) the guest runs on; "localhost" for local guests. */
  host: string;
}

export interface HookResult {
  ok: boolean;
  durationMs: number;
  /** What happened, for people: "exit 0", "exit 3: <last stderr line>", "HTTP 204",
   *  "timed out after 5000 ms", "spawn ENOENT". Never contains the hook's headers. */
  detail: string;
  timedOut?: boolean;
}

export interface HookRunner {
  run(hook: Hook, ctx: HookContext): Promise<HookResult>;
}
