// The JSON Schema of policy files, built from the validator itself: tryParsePolicy() is run over
// documents that reach every part of it with a recorder on its reader, and each getter the
// validator calls (which keys a mapping allows, a field's type, bounds, choices, default) becomes
// the schema of that field. So the schema cannot drift from the validator: a key added there is in
// the schema, and one no document reaches fails the build (see PROBES). Published as
// schema/policy.schema.json (npm run schema) for YAML editors; test/policy/policy-schema.test.ts
// checks the file is what this builds.
//
// The schema checks what a schema can: keys, types, choices, bounds. What needs more than one
// field (min <= max, above or below) or the file system (templates) stays the validator's.
import type { FieldShape, ReaderRecorder } from './yaml-reader.ts';
import { tryParsePolicy } from './parse-policy.ts';
import { formatDuration } from './duration.ts';
import { BALANCER_KEYS } from '../drivers/balancer/balancer-keys.ts';

type Schema = Record<string, unknown>;

/** A bound no policy reaches: maxima equal to it come from limits.hard_max and are left out. */
const UNBOUNDED_HARD_MAX = 1_000_000;

interface Entry {
  path: string;
  shape: FieldShape;
  value: unknown;
}

/**
 * Documents that between them reach every branch of the validator (every rule strategy, a
 * schedule, the xen driver, each balancer driver's keys (its `probe`), every optional mapping). They are inputs, not the schema: the schema
 * is what the validator reads from them. A key the validator allows but no probe reaches makes
 * policySchema() throw, naming it.
 */
export const PROBES: readonly string[] = [
  `pool: probe
min: 2
max: 4
guest:
  driver: local
  template: t.yaml
  image: images/web
  clone: auto
  health_path: /healthz
  metrics_path: /metrics
  metrics: [rps, inflight]
  boot_timeout: 30s
  stop_timeout: 10s
  drain_timeout: 30s
balancer:
  driver: builtin
  listen: 127.0.0.1:8080
  check: { interval: 1s, timeout: 2s, rise: 2, fall: 2 }
  response_timeout: 60s
  panic_threshold: 50
sampling: { interval: 5s, window: 5m }
warmup: 0s
scale_out: { cooldown: 30s }
scale_in: { cooldown: 60s, stabilization: 2m }
on_missing: hold
breaker: { failures: 3, open_for: 5m }
auto_heal: { enabled: true, max_concurrent: 1 }
rollout: { mode: auto, max_surge: 1, max_unavailable: 0, pause: 10s }
flap_budget: { changes: 6, window: 10m }
warm_pool: { size: 1 }
contention: { saturated_at: 0.9 }
hooks:
  before_register: { command: [warm-cache, --url, "http://{{address}}/"], timeout: 30s, on_failure: abandon }
  before_retire: { http: { url: "https://monitor.example/hosts/{{guest}}", method: DELETE, headers: { Authorization: Bearer x } }, timeout: 10s, on_failure: continue }
rules:
  - { name: rps, strategy: target-tracking, metric: rps, source: guest, aggregate: mean, target: 45, tolerance: 0.1, for: 1 }
  - { name: hot, strategy: threshold, metric: cpu, source: hypervisor, aggregate: max, above: 80, for: 2, step: +1 }
  - { name: prom-rps, strategy: target-tracking, source: prometheus, query: 'sum(rate(guest_requests_total{pool="{{pool}}"}[1m]))', aggregate: sum, target: 45 }
  - { name: prom-errors, strategy: threshold, source: prometheus, query: 'sum(rate(guest_errors_total{pool="{{pool}}"}[1m]))', above: 5, step: +1 }
  - { name: burst, strategy: signal, step: +2, cooldown: 5m, expires: 10m }
webhook: { secret_env: GRIDHOST_WEBHOOK_PROBE, remember: 24h }
schedules:
  - { name: campaign, cron: "0 9 * * 1-5", timezone: Europe/Berlin, duration: 9h, min: 3, max: 4 }
`,
  `pool: probe-xen
sampling: { interval: 1s }
guest:
  driver: xen
  template: t.xl.cfg
  image: /srv/images/web.img
  clone: reflink
  credit: { weight: 512, cap: 50 }
rollout: auto
rules:
  - { strategy: threshold, metric: cpu, below: 10, step: -25% }
  - { strategy: target-tracking, metric: inflight, target: 4 }
`,
  `pool: probe-hooks
guest: { driver: local, template: t.yaml, image: images/web }
hooks:
  before_register: { http: { url: "http://warm.example/{{guest}}", method: POST, headers: { X-Pool: "{{pool}}" } } }
  before_retire: { command: [deregister, "{{guest}}"] }
rules:
  - { strategy: target-tracking, metric: rps, target: 45 }
`,
  // Each balancer driver's own keys, from its module (drivers/balancer/balancer-keys.ts).
  ...BALANCER_KEYS.flatMap((d) => (d.probe === undefined ? [] : [`pool: probe-${d.name}
guest: { driver: local, template: t.yaml, image: images/web }
balancer: ${d.probe}
rules:
  - { strategy: target-tracking, metric: rps, target: 45 }
`])),
];

/** Paths are prefixed with the probe's index (`1.rules.0.step`), so two probes never mix. */
class Collector implements ReaderRecorder {
  readonly entries: Entry[] = [];
  doc = 0;
  note(path: string, shape: FieldShape, value: unknown): void {
    this.entries.push({ path: path === '' ? String(this.doc) : `${this.doc}.${path}`, shape, value });
  }
}

const isIndex = (seg: string) => /^\d+$/.test(seg);

/**
 * The default every read of a field gave. A default computed from other fields (warmup: twice
 * the sampling interval; a rule's name from its index) differs between probes and is left out.
 */
function sameDefault<T>(shapes: readonly FieldShape[]): T | undefined {
  const defs = new Set(shapes.map((s) => ('def' in s ? JSON.stringify(s.def) : undefined)));
  if (defs.size !== 1) return undefined;
  const d = [...defs][0];
  return d === undefined ? undefined : (JSON.parse(d) as T);
}
const parent = (p: string) => (p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '');
const lastSeg = (p: string) => p.slice(p.lastIndexOf('.') + 1);

class Builder {
  private readonly byPath = new Map<string, Entry[]>();
  readonly unexplored: string[] = [];

  constructor(entries: readonly Entry[]) {
    for (const e of entries) {
      const list = this.byPath.get(e.path) ?? [];
      list.push(e);
      this.byPath.set(e.path, list);
    }
  }

  private shapes(paths: readonly string[]): Entry[] {
    return paths.flatMap((p) => this.byPath.get(p) ?? []);
  }

  /** The schema of one logical field, read at these instance paths. */
  field(paths: readonly string[], label: string): Schema {
    const entries = this.shapes(paths);
    const kinds = new Set(entries.map((e) => e.shape.kind));
    if (kinds.has('custom')) return { ...(entries.find((e) => e.shape.kind === 'custom')!.shape as { schema: Schema }).schema };
    if (kinds.has('map')) return this.object(paths, entries.filter((e) => e.shape.kind === 'map'), label);
    if (kinds.has('seq')) return this.list(paths, entries.filter((e) => e.shape.kind === 'seq'), label);
    if (kinds.has('enum')) {
      const s = entries.find((e) => e.shape.kind === 'enum')!.shape as Extract<FieldShape, { kind: 'enum' }>;
      return { type: 'string', enum: [...s.values], ...(s.def !== undefined ? { default: s.def } : {}) };
    }
    if (kinds.has('boolean')) {
      const s = entries.find((e) => e.shape.kind === 'boolean')!.shape as Extract<FieldShape, { kind: 'boolean' }>;
      return { type: 'boolean', ...(s.def !== undefined ? { default: s.def } : {}) };
    }
    if (kinds.has('duration')) {
      const s = entries.find((e) => e.shape.kind === 'duration')!.shape as Extract<FieldShape, { kind: 'duration' }>;
      return {
        type: 'string',
        description: `a duration such as 500ms, 30s, 5m or 1h30m${s.positive ? ', longer than 0' : ''}`,
        ...(sameDefault(entries.map((e) => e.shape)) !== undefined ? { default: formatDuration(s.def!) } : {}),
      };
    }
    if (kinds.has('number')) return this.number(entries.map((e) => e.shape).filter((s): s is Extract<FieldShape, { kind: 'number' }> => s.kind === 'number'));
    if (kinds.has('string')) {
      const ss = entries.map((e) => e.shape).filter((s): s is Extract<FieldShape, { kind: 'string' }> => s.kind === 'string');
      // Branches that read the field with different patterns (guest.image: local vs xen) allow any.
      const patterns = new Set(ss.map((s) => s.pattern?.source));
      const pattern = patterns.size === 1 ? ss[0]!.pattern : undefined;
      const def = sameDefault(ss);
      return { type: 'string', ...(pattern ? { pattern: pattern.source } : {}), ...(def !== undefined ? { default: def } : {}) };
    }
    this.unexplored.push(label);
    return {};
  }

  private number(ss: Extract<FieldShape, { kind: 'number' }>[]): Schema {
    const out: Schema = { type: ss.every((s) => s.integer) ? 'integer' : 'number' };
    const mins = ss.filter((s) => s.min !== undefined);
    const maxs = ss.filter((s) => s.max !== undefined && s.max !== UNBOUNDED_HARD_MAX);
    // Every branch bounds it: the loosest bound holds for all.
    if (mins.length === ss.length && mins.length > 0) {
      const lo = mins.reduce((a, b) => (b.min! < a.min! || (b.min === a.min && !b.minExclusive) ? b : a));
      out[lo.minExclusive ? 'exclusiveMinimum' : 'minimum'] = lo.min;
    }
    if (maxs.length === ss.length && maxs.length > 0) {
      const hi = maxs.reduce((a, b) => (b.max! > a.max! || (b.max === a.max && !b.maxExclusive) ? b : a));
      out[hi.maxExclusive ? 'exclusiveMaximum' : 'maximum'] = hi.max;
    }
    if (ss.some((s) => s.max === UNBOUNDED_HARD_MAX)) out.description = 'at most limits.hard_max of gridhost.yaml (default 8)';
    const def = sameDefault(ss);
    if (def !== undefined && def !== UNBOUNDED_HARD_MAX) out.default = def;
    return out;
  }

  private list(paths: readonly string[], seqs: Entry[], label: string): Schema {
    const items = [...this.byPath.keys()].filter((p) => paths.includes(parent(p)) && isIndex(lastSeg(p)));
    const nonEmpty = seqs.some((e) => (e.shape as Extract<FieldShape, { kind: 'seq' }>).nonEmpty);
    return { type: 'array', ...(nonEmpty ? { minItems: 1 } : {}), items: items.length > 0 ? this.field(items, `${label}[]`) : (this.unexplored.push(`${label}[]`), {}) };
  }

  /** A mapping; instances read with different key sets (a rule's strategy) become a oneOf. */
  private object(paths: readonly string[], maps: Entry[], label: string): Schema {
    const groups = new Map<string, { keys: readonly string[]; paths: string[] }>();
    for (const e of maps) {
      const keys = (e.shape as Extract<FieldShape, { kind: 'map' }>).keys;
      const k = JSON.stringify(keys);
      const g = groups.get(k) ?? { keys, paths: [] };
      if (!g.paths.includes(e.path)) g.paths.push(e.path);
      groups.set(k, g);
    }
    // The widest key set stands for a mapping read before its variant was known (it allows all).
    const variants = [...groups.values()];
    if (variants.length === 1) return this.plainObject(variants[0]!.keys, variants[0]!.paths, label);
    const all = [...new Set(variants.flatMap((v) => v.keys))];
    const narrow = variants.filter((v) => v.keys.length < all.length);
    const discriminator = all.find((k) => narrow.every((v) => v.keys.includes(k) && this.constValue(v.paths.map((p) => `${p}.${k}`)) !== undefined)
      && new Set(narrow.map((v) => this.constValue(v.paths.map((p) => `${p}.${k}`)))).size === narrow.length);
    if (discriminator === undefined) return this.plainObject(all, variants.flatMap((v) => v.paths), label);
    return {
      type: 'object',
      required: [discriminator],
      oneOf: narrow.map((v) => {
        const o = this.plainObject(v.keys, v.paths, label);
        (o.properties as Record<string, Schema>)[discriminator] = { const: this.constValue(v.paths.map((p) => `${p}.${discriminator}`)) };
        return o;
      }),
    };
  }

  /** The one value every instance had, if they all had the same. */
  private constValue(paths: string[]): unknown {
    const vs = new Set(this.shapes(paths).map((e) => e.value));
    return vs.size === 1 ? [...vs][0] : undefined;
  }

  private plainObject(keys: readonly string[], paths: readonly string[], label: string): Schema {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const k of keys) {
      const kp = paths.map((p) => `${p}.${k}`);
      properties[k] = this.field(kp, label === '' ? k : `${label}.${k}`);
      if (this.shapes(kp).some((e) => 'required' in e.shape && e.shape.required)) required.push(k);
    }
    return { type: 'object', additionalProperties: false, ...(required.length > 0 ? { required } : {}), properties };
  }
}

/** The schema, built by running the validator over the probes (and any further documents). */
export function policySchema(extraDocs: readonly string[] = []): Schema {
  const c = new Collector();
  const docs = [...PROBES, ...extraDocs];
  for (const [i, text] of docs.entries()) {
    c.doc = i;
    const r = tryParsePolicy(text, `probe-${i}.yaml`, { templatesDir: '/templates', hardMax: UNBOUNDED_HARD_MAX, recorder: c });
    if (!r.ok) throw new Error(`probe ${i} does not validate; fix it: ${r.issues.map((x) => `${x.line}:${x.col} ${x.path}: ${x.message}`).join('; ')}`);
  }
  const b = new Builder(c.entries);
  const root = b.field(docs.map((_, i) => String(i)), '');
  if (b.unexplored.length > 0) throw new Error(`no probe reaches ${b.unexplored.join(', ')}: add them to PROBES in src/policy/policy-schema.ts`);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'gridhost policy',
    description: 'One pool\'s scaling policy (policies/<pool>.yaml). Built from gridhost\'s validator (src/policy/policy-schema.ts, npm run schema); `gridhost validate` also checks what a schema cannot (min <= max, templates that exist, cron expressions).',
    ...root,
  };
}
