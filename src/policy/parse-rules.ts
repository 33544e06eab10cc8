// The `rules:` and `schedules:` lists of a policy file. Issues go to the shared reader;
// the returned values are only used when the file has no issues at all.

import { validateDetailed } from 'node-cron';
import { CronExpressionParser } from 'cron-parser';
import { isMap, isScalar } from 'yaml';
import { describeAvailable, HYPERVISOR_METRICS, METRIC_SOURCE_NAMES, METRIC_SOURCES, RESERVED_GUEST_METRICS, sourceOf, type MetricSourceName, type PoolMetricFacts } from '../domain/metric-catalogue.ts';
import { prometheusMetricKey, type Rule, type Schedule, type SignalRule, type Step } from '../domain/policy.ts';
import { unknownPlaceholders } from '../drivers/prometheus/promql-template.ts';
import { nearest, type Field, type Fields, type YamlReader } from './yaml-reader.ts';

export const METRIC_RE = /^[a-z][a-z0-9_]{0,63}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_MSG = 'must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit';

const COMMON_KEYS = ['name', 'strategy', 'metric', 'source', 'query', 'aggregate', 'for'] as const;
const METRIC_MSG = 'must be lowercase letters, digits and "_", starting with a letter (at most 64)';
const MAX_QUERY = 4096;
const THRESHOLD_KEYS = [...COMMON_KEYS, 'above', 'below', 'step'] as const;
const TARGET_KEYS = [...COMMON_KEYS, 'target', 'tolerance'] as const;
const SIGNAL_KEYS = ['name', 'strategy', 'step', 'cooldown', 'expires'] as const;
const ANY_RULE_KEYS = [...new Set<string>([...THRESHOLD_KEYS, ...TARGET_KEYS, ...SIGNAL_KEYS])];
const STRATEGIES = ['threshold', 'target-tracking', 'signal'] as const;
/** A signal rule's defaults: one step per 5 minutes, a signal not served in 10 minutes is dropped. */
export const SIGNAL_DEFAULTS = Object.freeze({ cooldownMs: 300_000, expiresMs: 600_000 });
const MAX_SIGNAL_WAIT_MS = 24 * 3600_000;
const AGGREGATES = ['mean', 'max', 'sum'] as const;

/** What a YAML editor sees of a step: `+1` and `-2` are integers to YAML, `+25%` a string. */
const STEP_SCHEMA = {
  description: 'guests to add (+n) or remove (-n), or a percentage of the current size (+p% / -p%); the sign is required',
  oneOf: [{ type: 'integer', not: { const: 0 } }, { type: 'string', pattern: '^[+-](\\d+|\\d+(\\.\\d+)?%)$' }],
};

/** `+n`/`-n` (nonzero integer) or `+p%`/`-p%` (nonzero). The sign is required. */
export function parseStep(text: string): { ok: true; step: Step } | { ok: false; message: string } {
  const count = /^([+-])(\d+)$/.exec(text);
  const pct = /^([+-])(\d+(?:\.\d+)?)%$/.exec(text);
  const m = count ?? pct;
  if (m === null) {
    if (/^\d+(\.\d+)?%?$/.test(text)) return { ok: false, message: 'step needs an explicit sign: +n or +p% adds guests, -n or -p% removes them' };
    return { ok: false, message: 'step must be +n / -n (guests) or +p% / -p% (of the current size), e.g. +1 or -25%' };
  }
  const value = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  if (value === 0) return { ok: false, message: 'step must not be 0' };
  return { ok: true, step: count ? { kind: 'count', value } : { kind: 'percent', value } };
}

/** Reports duplicate names at the later occurrence. */
function checkUnique(r: YamlReader, items: { name: string | undefined; field: Field }[], what: string): void {
  const seen = new Map<string, string>();
  for (const { name, field } of items) {
    if (name === undefined) continue;
    const first = seen.get(name);
    if (first !== undefined) r.issue(field, `duplicate ${what} name; ${first} already uses it`, name);
    else seen.set(name, field.path.replace(/\.name$/, ''));
  }
}

/**
 * `guest.metrics`: the names the guest reports on its metrics endpoint. Absent: `def` (what the
 * example guest reports). Names a hypervisor measures are refused: both would land under one
 * sample key, and the rule could not tell whose value it got.
 */
export function parseGuestMetrics(r: YamlReader, f: Field, def: readonly string[]): string[] | undefined {
  if (f.value === undefined) return [...def];
  const items = r.seq(f, { what: 'metric names' });
  if (items === undefined) return undefined;
  const out: string[] = [];
  let ok = true;
  const seen = new Map<string, string>();
  for (const item of items) {
    const name = r.str(item, { required: true, pattern: METRIC_RE, patternMsg: METRIC_MSG });
    if (name === undefined) {
      ok = false;
      continue;
    }
    const first = seen.get(name);
    if (first !== undefined) {
      r.issue(item, `listed twice; ${first} already names it`);
      ok = false;
    } else if (RESERVED_GUEST_METRICS.has(name)) {
      r.issue(item, `${name} is measured by the hypervisor (${METRIC_SOURCES.hypervisor.what}) under that name; give the guest's own figure another name (e.g. guest_${name})`);
      ok = false;
    } else {
      seen.set(name, item.path);
      out.push(name);
    }
  }
  return ok ? out : undefined;
}

/**
 * The rule's metric must be one a source provides for the pool (a rule on a metric nobody
 * reports would hold forever); `source:` picks the source, else the first that provides it.
 * `facts` is undefined when the guest section is itself invalid: nothing to check against.
 */
function checkMetric(r: YamlReader, m: { get(k: string): Field; has(k: string): boolean }, metric: string | undefined, facts: PoolMetricFacts | undefined): MetricSourceName | undefined {
  // prometheus is told apart before this (parsePrometheusRule); it is named so the message lists every source.
  const source = m.has('source') ? (r.oneOf(m.get('source'), [...METRIC_SOURCE_NAMES, 'prometheus']) as MetricSourceName | undefined) : undefined;
  if (metric === undefined || facts === undefined || (m.has('source') && source === undefined)) return undefined;
  if (source !== undefined) {
    const provided = METRIC_SOURCES[source].metrics(facts).map((x) => x.name);
    if (provided.includes(metric)) return source;
    const hint = source === 'guest' ? `; if the guest reports ${metric}, add it to guest.metrics` : '';
    const list = provided.length > 0 ? provided.join(', ') : 'nothing for this pool';
    r.issue(m.get('metric'), `source ${source} does not provide ${metric}: it provides ${list}${hint}`);
    return undefined;
  }
  const found = sourceOf(metric, facts);
  if (found !== undefined) return found;

  const drivers = Object.keys(HYPERVISOR_METRICS).filter((d) => HYPERVISOR_METRICS[d]!.some((x) => x.name === metric));
  if (drivers.length > 0) {
    r.issue(m.get('metric'), `${metric} is measured only for guest.driver ${drivers.join(' | ')}; this pool's guests (driver ${facts.driver}) provide ${describeAvailable(facts)}`);
    return undefined;
  }
  const all = [...new Set(METRIC_SOURCE_NAMES.flatMap((s) => METRIC_SOURCES[s].metrics(facts).map((x) => x.name)))];
  const near = nearest(metric, all);
  const hint = near.length > 0 ? `did you mean ${near.join(' or ')}? ` : '';
  r.issue(
    m.get('metric'),
    `no source provides metric ${metric} for this pool (it would never have a value); ${hint}metrics that exist: ${describeAvailable(facts)}. ` +
      `A metric the guest reports on its metrics endpoint must be listed in guest.metrics${explicitHint(metric, facts)}`,
  );
  return undefined;
}

/** A source read only when named (the balancer) that provides `metric`: say how to read it. */
function explicitHint(metric: string, facts: PoolMetricFacts): string {
  const named = METRIC_SOURCE_NAMES.filter((s) => METRIC_SOURCES[s].metrics(facts).some((x) => x.name === metric));
  return named.length > 0 ? `; the ${named[0]} measures ${metric} too, and a rule reads it with \`source: ${named[0]}\`` : '';
}

export interface RuleOptions {
  /** Whether gridhost.yaml names a Prometheus server (prometheus.url); false refuses
   *  `source: prometheus`. Undefined = not checked (the simulator reads no metrics). */
  prometheus?: boolean;
}

/** A `source: prometheus` rule's `query:`, and the key its value is kept under in a sample. */
function parsePrometheusRule(r: YamlReader, m: Fields, name: string | undefined, o: RuleOptions): { promql?: string; metric: string | undefined } {
  if (o.prometheus === false) r.issue(m.get('source'), 'needs a Prometheus server: set prometheus.url in gridhost.yaml (or GRIDHOST_PROMETHEUS_URL)');
  if (m.has('metric')) r.issue(m.get('metric'), 'a source: prometheus rule reads its value from query:, not from a metric; leave metric out');
  // Required of this kind of rule only: the schema (one per strategy) must not demand it of the others.
  if (!m.has('query')) r.issue(m.get('query'), 'is required: a PromQL query returning one number for the pool');
  const query = r.str(m.get('query'));
  if (query !== undefined) {
    if (query.trim() === '') r.issue(m.get('query'), 'must be a PromQL query returning one number, e.g. sum(rate(http_requests_total{pool="{{pool}}"}[1m]))');
    else if (query.length > MAX_QUERY) r.issue(m.get('query'), `must be at most ${MAX_QUERY} characters`);
    else {
      const unknown = unknownPlaceholders(query);
      if (unknown.length > 0) r.issue(m.get('query'), `unknown placeholder ${unknown.join(', ')}; a query may use {{pool}} only`);
    }
  }
  return { ...(query !== undefined ? { promql: query } : {}), metric: name === undefined ? undefined : prometheusMetricKey(name) };
}

/** A step as written (`+1`, `-25%`), or undefined after an issue. */
function readStep(r: YamlReader, stepField: Field): { step: Step; text: string } | undefined {
  r.describe(stepField, STEP_SCHEMA, { required: true });
  if (stepField.value === undefined) {
    r.issue(stepField, 'is required (+n / -n guests or +p% / -p%)');
    return undefined;
  }
  const text = r.sourceText(stepField);
  const parsed = text === undefined ? undefined : parseStep(text);
  if (parsed === undefined) r.issue(stepField, 'step must be +n / -n or +p% / -p%');
  else if (!parsed.ok) r.issue(stepField, parsed.message, text);
  else return { step: parsed.step, text: text as string };
  return undefined;
}

/** A `strategy: signal` rule: a step asked for through POST /api/pools/:pool/signal. */
function parseSignalRule(r: YamlReader, m: Fields, name: string | undefined): SignalRule | undefined {
  const step = readStep(r, m.get('step'));
  const cooldownMs = r.duration(m.get('cooldown'), { def: SIGNAL_DEFAULTS.cooldownMs });
  const expiresMs = r.duration(m.get('expires'), { def: SIGNAL_DEFAULTS.expiresMs, positive: true });
  for (const [key, ms] of [['cooldown', cooldownMs], ['expires', expiresMs]] as const) {
    if (ms !== undefined && ms > MAX_SIGNAL_WAIT_MS) r.issue(m.get(key), 'must be at most 24h');
  }
  if (name === undefined || step === undefined || cooldownMs === undefined || expiresMs === undefined) return undefined;
  return { name, strategy: 'signal', step: step.step, cooldownMs, expiresMs };
}

/** The file's `rules:`: metric rules, and the signal rules kept apart (Policy.signalRules). */
export function parseRules(r: YamlReader, f: Field, facts?: PoolMetricFacts, o: RuleOptions = {}): { rules: Rule[]; signalRules: SignalRule[] } {
  const items = r.seq(f, { required: true, nonEmpty: true, what: 'rules' }) ?? [];
  const rules: Rule[] = [];
  const signalRules: SignalRule[] = [];
  const names: { name: string | undefined; field: Field }[] = [];
  items.forEach((item, i) => {
    const strategyGuess = peekStrategy(item);
    const keys = strategyGuess === 'threshold' ? THRESHOLD_KEYS : strategyGuess === 'target-tracking' ? TARGET_KEYS : strategyGuess === 'signal' ? SIGNAL_KEYS : ANY_RULE_KEYS;
    const m = r.map(item, keys, { required: true });
    if (m === undefined) return;
    // Default names follow the list index, matching the dotted path (`rules.1` -> `rule-1`).
    const name = r.str(m.get('name'), { def: `rule-${i}`, pattern: NAME_RE, patternMsg: NAME_MSG });
    names.push({ name, field: m.has('name') ? m.get('name') : item });
    const strategy = r.oneOf(m.get('strategy'), STRATEGIES, { required: true });
    if (strategy === 'signal') {
      const rule = parseSignalRule(r, m, name);
      if (rule) signalRules.push(rule);
      return;
    }
    // source: prometheus reads one number per tick from a PromQL query instead of a metric.
    const fromPrometheus = r.sourceText(m.get('source')) === 'prometheus';
    let metric: string | undefined;
    let source: MetricSourceName | undefined;
    let promql: string | undefined;
    if (fromPrometheus) ({ metric, promql } = parsePrometheusRule(r, m, name, o));
    else {
      if (m.has('query')) r.issue(m.get('query'), 'query is for source: prometheus (other sources report metric: themselves)');
      // Required here, not of a source: prometheus rule (so not marked required for the schema).
      if (!m.has('metric')) r.issue(m.get('metric'), 'is required (or source: prometheus with a query)');
      metric = r.str(m.get('metric'), { pattern: METRIC_RE, patternMsg: METRIC_MSG });
      source = checkMetric(r, m, metric, facts);
    }
    const aggregate = r.oneOf(m.get('aggregate'), AGGREGATES, { def: 'mean' });
    const forN = r.int(m.get('for'), { def: 1, min: 1 });
    if (strategy === 'threshold') {
      const above = m.has('above') ? r.num(m.get('above')) : undefined;
      const below = m.has('below') ? r.num(m.get('below')) : undefined;
      if (m.has('above') && m.has('below')) r.issue(m.get('below'), 'a threshold rule sets exactly one of above or below, not both');
      else if (!m.has('above') && !m.has('below')) r.issue(item, 'a threshold rule needs one of above (scale out when higher) or below (scale in when lower)');
      const stepField = m.get('step');
      const read = readStep(r, stepField);
      const step = read?.step;
      if (read !== undefined) {
        if (m.has('above') && !m.has('below') && read.step.value < 0) r.issue(stepField, 'an above rule scales out: its step must be positive (e.g. +1)', read.text);
        if (m.has('below') && !m.has('above') && read.step.value > 0) r.issue(stepField, 'a below rule scales in: its step must be negative (e.g. -1)', read.text);
      }
      rules.push({
        name: name as string,
        strategy,
        metric: metric as string,
        ...(source !== undefined ? { source } : {}),
        ...(promql !== undefined ? { promql } : {}),
        aggregate: aggregate as 'mean',
        ...(above !== undefined ? { above } : {}),
        ...(below !== undefined ? { below } : {}),
        for: forN as number,
        step: step as Step,
      });
    } else if (strategy === 'target-tracking') {
      const target = r.num(m.get('target'), { required: true, min: 0, minExclusive: true });
      const tolerance = r.num(m.get('tolerance'), { def: 0.1, min: 0, max: 1, maxExclusive: true });
      rules.push({
        name: name as string,
        strategy,
        metric: metric as string,
        ...(source !== undefined ? { source } : {}),
        ...(promql !== undefined ? { promql } : {}),
        aggregate: aggregate as 'mean',
        target: target as number,
        tolerance: tolerance as number,
        for: forN as number,
      });
    }
  });
  checkUnique(r, names, 'rule');
  return { rules, signalRules };
}

/** The strategy as written, if it is a known one, so unknown keys are judged against the right set. */
function peekStrategy(item: Field): string | undefined {
  const node = item.value;
  if (node === undefined || !isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'strategy');
  const v = pair && isScalar(pair.value) ? pair.value.value : undefined;
  return typeof v === 'string' && (STRATEGIES as readonly string[]).includes(v) ? v : undefined;
}

export interface ScheduleBounds {
  /** Policy min/max, undefined when they are themselves invalid. */
  min: number | undefined;
  max: number | undefined;
  hardMax: number;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function parseSchedules(r: YamlReader, f: Field, b: ScheduleBounds): Schedule[] {
  const items = r.seq(f, { what: 'schedules' }) ?? [];
  const out: Schedule[] = [];
  const names: { name: string | undefined; field: Field }[] = [];
  items.forEach((item, i) => {
    const m = r.map(item, ['name', 'cron', 'timezone', 'duration', 'min', 'max'], { required: true });
    if (m === undefined) return;
    const name = r.str(m.get('name'), { def: `schedule-${i}`, pattern: NAME_RE, patternMsg: NAME_MSG });
    names.push({ name, field: m.has('name') ? m.get('name') : item });
    const timezone = r.str(m.get('timezone'), { def: 'UTC' });
    const tzOk = timezone !== undefined && isValidTimeZone(timezone);
    if (timezone !== undefined && !tzOk) r.issue(m.get('timezone'), 'not a known IANA time zone (e.g. Europe/Berlin, UTC)');
    const cron = r.str(m.get('cron'), { required: true });
    if (cron !== undefined) {
      const v = validateDetailed(cron);
      if (!v.valid) {
        const why = v.errors.map((e) => e.message).join('; ');
        r.issue(m.get('cron'), `not a valid cron expression (5 or 6 fields, e.g. "0 9 * * 1-5"): ${why}`);
      } else {
        try {
          CronExpressionParser.parse(cron, tzOk ? { tz: timezone } : {}).next();
        } catch (e) {
          r.issue(m.get('cron'), `cron expression cannot be scheduled: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    const durationMs = r.duration(m.get('duration'), { required: true, positive: true });
    const bound = { min: 1, max: b.hardMax, maxNote: '(limits.hard_max)' };
    const smin = m.has('min') ? r.int(m.get('min'), bound) : undefined;
    const smax = m.has('max') ? r.int(m.get('max'), bound) : undefined;
    if (!m.has('min') && !m.has('max')) r.issue(item, 'a schedule sets min, max or both');
    const effMin = m.has('min') ? smin : b.min;
    const effMax = m.has('max') ? smax : b.max;
    if (effMin !== undefined && effMax !== undefined && effMin > effMax) {
      if (m.has('min')) r.issue(m.get('min'), `must be <= the max in force during the window (${effMax})`);
      else r.issue(m.get('max'), `must be >= the min in force during the window (${effMin})`);
    }
    out.push({
      name: name as string,
      cron: cron as string,
      timezone: timezone as string,
      durationMs: durationMs as number,
      ...(smin !== undefined ? { min: smin } : {}),
      ...(smax !== undefined ? { max: smax } : {}),
    });
  });
  checkUnique(r, names, 'schedule');
  return out;
}
