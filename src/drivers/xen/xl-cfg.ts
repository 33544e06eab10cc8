// Rendering a guest's xl.cfg from the pool's template, and the guest's deterministic MAC/UUID.
// Template placeholders: {{name}} {{uuid}} {{mac}} {{ip}} {{disk}} {{format}} {{memory}} (and any
// other var the driver passes). A placeholder standing alone as a value is written as an xl.cfg
// string ("...") or a bare number; inside a quoted string it is inserted as is. Either way the
// value must be made of safe characters only, so it can never end a string or start a new key.
import { createHash } from 'node:crypto';
import { GridhostError } from '../../errors/errors.ts';

export type CfgVars = Record<string, string | number>;

const SAFE_VALUE = /^[A-Za-z0-9_.:/@+-]+$/;

function checkValue(key: string, v: string | number): string {
  const s = String(v);
  if (typeof v === 'number' ? !Number.isFinite(v) : !SAFE_VALUE.test(s)) {
    throw new GridhostError(
      'GH_TEMPLATE_INVALID',
      `xl.cfg value for {{${key}}} is not safe: ${JSON.stringify(s)} (allowed: letters, digits and _ . : / @ + -)`,
      { placeholder: key },
    );
  }
  return s;
}

/** Render an xl.cfg template. Unknown placeholders are GH_TEMPLATE_INVALID; `unset` says why a
 *  known one has no value here (e.g. {{gateway}} on a dom0 whose network has none). */
export function renderXlCfg(templateText: string, vars: CfgVars, unset: Record<string, string> = {}): string {
  return templateText
    .split('\n')
    .map((line, lineNo) => {
      let out = '';
      let quote: string | undefined;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i] as string;
        if (quote === undefined && ch === '#') return out + line.slice(i); // comment: left as written
        if (ch === '{' && line[i + 1] === '{') {
          const end = line.indexOf('}}', i + 2);
          const key = end < 0 ? '' : line.slice(i + 2, end).trim();
          if (!/^[a-z][a-z0-9_]*$/.test(key) || !(key in vars)) {
            const why = Object.hasOwn(unset, key) ? `placeholder {{${key}}} has no value: ${unset[key]}` : `unknown placeholder ${line.slice(i, end < 0 ? undefined : end + 2)}`;
            throw new GridhostError('GH_TEMPLATE_INVALID', `xl.cfg template line ${lineNo + 1}: ${why}`, {
              line: lineNo + 1,
            });
          }
          const raw = vars[key] as string | number;
          const value = checkValue(key, raw);
          out += quote !== undefined || typeof raw === 'number' ? value : `"${value}"`;
          i = end + 1;
          continue;
        }
        if (ch === '"' || ch === "'") {
          if (quote === undefined) quote = ch;
          else if (quote === ch) quote = undefined;
        }
        out += ch;
      }
      return out;
    })
    .join('\n');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** A MAC in Xen's OUI 00:16:3e, derived from the guest id (`attempt` > 0 picks another on a clash). */
export function macFor(poolGuestId: string, attempt = 0): string {
  const h = digest(attempt === 0 ? poolGuestId : `${poolGuestId}#${attempt}`);
  // Xen reserves 00:16:3e:00-7f:xx:xx for guests: keep the fourth byte below 0x80.
  const b = [(h[0] ?? 0) & 0x7f, h[1] ?? 0, h[2] ?? 0];
  return ['00', '16', '3e', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** The first macFor() attempt not already used on the host. */
export function uniqueMac(poolGuestId: string, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    const mac = macFor(poolGuestId, attempt);
    if (!taken.has(mac)) return mac;
  }
}

/** A stable RFC 4122 (version 4 layout) UUID derived from the guest id. */
export function uuidFor(poolGuestId: string): string {
  const h = Buffer.from(digest(`uuid:${poolGuestId}`).subarray(0, 16));
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x40;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** `memory = N` of a rendered config, in MiB (for placement before creating). */
export function cfgMemoryMb(cfgText: string): number | undefined {
  // xl keeps every assignment and reads the last one of a repeated key (checked on the lab with
  // `xl create -n`), so placement must count the last `memory =` too.
  const all = [...cfgText.matchAll(/^\s*memory\s*=\s*"?(\d+)"?\s*(#.*)?$/gm)];
  const last = all[all.length - 1];
  return last ? Number(last[1]) : undefined;
}

/** Gridhost's own header lines (`# gridhost.key = value`) of a rendered config. */
export function parseCfgHeader(cfgText: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of cfgText.matchAll(/^# gridhost\.([a-z][a-zA-Z0-9_]*) = (.*)$/gm)) out[m[1] as string] = (m[2] as string).trim();
  return out;
}

export function cfgHeader(meta: Record<string, string>): string {
  return Object.entries(meta)
    .map(([k, v]) => `# gridhost.${k} = ${v.replace(/[\r\n]/g, ' ')}`)
    .join('\n');
}
