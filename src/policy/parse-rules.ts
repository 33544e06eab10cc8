// The `rules:` and `schedules:` lists of a policy file. Issues go to the shared reader;
// the returned values are only used when the file has no issues at all.

import { validateDetailed } from 'node-cron';
import { CronExpressionParser } from 'cron-parser';
import { isMap, isScalar } from 'yaml';
import type { Rule, Schedule, Step } from '../domain/policy.ts';
import type { Field, YamlReader } from './yaml-reader.ts';

export const METRIC_RE = /^[a-z][a-z0-9_]{0,63}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_MSG = 'must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit';

const COMMON_KEYS = ['name', 'strategy', 'metric', 'aggregate', 'for'] as const;
const THRESHOLD_KEYS = [...COMMON_KEYS, 'above', 'below', 'step'] as const;
const TARGET_KEYS = [...COMMON_KEYS, 'target', 'tolerance'] as const;
const ANY_RULE_KEYS = [...new Set<string>([...THRESHOLD_KEYS, ...TARGET_KEYS])];
const STRATEGIES = ['threshold', 'target-tracking'] as const;
const AGGREGATES = ['mean', 'max', 'sum'] as const;

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

export function parseRules(r: YamlReader, f: Field): Rule[] {
  const items = r.seq(f, { required: true, nonEmpty: true, what: 'rules' }) ?? [];
  const rules: Rule[] = [];
  const names: { name: string | undefined; field: Field }[] = [];
  items.forEach((item, i) => {
    const strategyGuess = peekStrategy(item);
    const keys = strategyGuess === 'threshold' ? THRESHOLD_KEYS : strategyGuess === 'target-tracking' ? TARGET_KEYS : ANY_RULE_KEYS;
    const m = r.map(item, keys, { required: true });
    if (m === undefined) return;
    // Default names follow the list index, matching the dotted path (`rules.1` -> `rule-1`).
    const name = r.str(m.get('name'), { def: `rule-${i}`, pattern: NAME_RE, patternMsg: NAME_MSG });
    names.push({ name, field: m.has('name') ? m.get('name') : item });
    const strategy = r.oneOf(m.get('strategy'), STRATEGIES, { required: true });
    const metric = r.str(m.get('metric'), {
      required: true,
      pattern: METRIC_RE,
      patternMsg: 'must be lowercase letters, digits and "_", starting with a letter (at most 64)',
    });
    const aggregate = r.oneOf(m.get('aggregate'), AGGREGATES, { def: 'mean' });
    const forN = r.int(m.get('for'), { def: 1, min: 1 });
    if (strategy === 'threshold') {
      const above = m.has('above') ? r.num(m.get('above')) : undefined;
      const below = m.has('below') ? r.num(m.get('below')) : undefined;
      if (m.has('above') && m.has('below')) r.issue(m.get('below'), 'a threshold rule sets exactly one of above or below, not both');
      else if (!m.has('above') && !m.has('below')) r.issue(item, 'a threshold rule needs one of above (scale out when higher) or below (scale in when lower)');
      const stepField = m.get('step');
      let step: Step | undefined;
      if (stepField.value === undefined) r.issue(stepField, 'is required (+n / -n guests or +p% / -p%)');
      else {
        const text = r.sourceText(stepField);
        const parsed = text === undefined ? undefined : parseStep(text);
        if (parsed === undefined) r.issue(stepField, 'step must be +n / -n or +p% / -p%');
        else if (!parsed.ok) r.issue(stepField, parsed.message, text);
        else {
          step = parsed.step;
          if (m.has('above') && !m.has('below') && step.value < 0) r.issue(stepField, 'an above rule scales out: its step must be positive (e.g. +1)', text);
          if (m.has('below') && !m.has('above') && step.value > 0) r.issue(stepField, 'a below rule scales in: its step must be negative (e.g. -1)', text);
        }
      }
      rules.push({
        name: name as string,
        strategy,
        metric: metric as string,
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
        aggregate: aggregate as 'mean',
        target: target as number,
        tolerance: tolerance as number,
        for: forN as number,
      });
    }
  });
  checkUnique(r, names, 'rule');
  return rules;
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
