// A fake hook runner for the controller's tests: records every call and answers what it is told.
import type { Hook } from '../../domain/policy.ts';
import type { HookContext, HookResult, HookRunner } from './hook-runner.ts';

export class FakeHookRunner implements HookRunner {
  readonly calls: { hook: Hook; ctx: HookContext }[] = [];
  /** Result per hook name; default success after `durationMs`. */
  results: Partial<Record<HookContext['hook'], Omit<HookResult, 'durationMs'>>> = {};
  durationMs = 5;

  async run(hook: Hook, ctx: HookContext): Promise<HookResult> {
    this.calls.push({ hook, ctx });
    return { ok: true, detail: 'exit 0', ...this.results[ctx.hook], durationMs: this.durationMs };
  }
}
