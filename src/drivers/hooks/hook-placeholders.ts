// Placeholders in a hook's command arguments and URL: {{guest}} {{pool}} {{address}} {{host}}
// {{hook}}. Pure. Arguments are passed to the process as they are (no shell ever reads them);
// in a URL each value is percent-encoded, so a value cannot add a path, query or host.
import type { HookContext } from './hook-runner.ts';

export const HOOK_PLACEHOLDERS = ['guest', 'pool', 'address', 'host', 'hook'] as const;
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

/** The placeholders in `s` that are not known (for the policy's validation). */
export function unknownPlaceholders(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(PLACEHOLDER)) if (!(HOOK_PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')) out.push(m[0]);
  return out;
}

function sub(s: string, ctx: HookContext, encode: (v: string) => string): string {
  return s.replace(PLACEHOLDER, (all, name: string) => ((HOOK_PLACEHOLDERS as readonly string[]).includes(name) ? encode(ctx[name as keyof HookContext]) : all));
}

export function renderArg(s: string, ctx: HookContext): string {
  return sub(s, ctx, (v) => v);
}

export function renderUrl(s: string, ctx: HookContext): string {
  return sub(s, ctx, encodeURIComponent);
}

/** The environment a command hook gets: nothing of gridhost's own (no tokens, no secrets). */
export function hookEnv(ctx: HookContext, path: string): Record<string, string> {
  return {
    PATH: path,
    LANG: 'C.UTF-8',
    GRIDHOST_HOOK: ctx.hook,
    GRIDHOST_GUEST: ctx.guest,
    GRIDHOST_POOL: ctx.pool,
    GRIDHOST_ADDRESS: ctx.address,
    GRIDHOST_HOST: ctx.host,
  };
}
