// Bodies of POST /api/pools/:pool/signal, read into signal offers (decision/signal-book.ts).
// Two forms:
//  - plain: {"rule": NAME, "key"?: idempotency key, "reason"?, "by"?}; without a key every
//    request is a new signal;
//  - Prometheus Alertmanager's webhook payload (version 4) as Alertmanager sends it:
//    {version, receiver, status, alerts: [{status, labels, annotations, startsAt, endsAt,
//    fingerprint, ...}], groupKey, ...}. Each firing alert is one signal, keyed by its
//    fingerprint and startsAt (so Alertmanager's repeats of a firing alert, and redeliveries,
//    act once, and an alert that resolves and fires again is new); its rule is the alert's
//    `gridhost_rule` label, else its alertname. Resolved alerts are ignored. Fields gridhost does
//    not read are accepted (Alertmanager adds some between versions).
// Every rule named must be a strategy: signal rule of the pool, else the whole request is
// refused (400) and nothing is recorded.
import { createHash, randomUUID } from 'node:crypto';
import type { Policy } from '../domain/policy.ts';
import type { SignalOffer } from '../decision/signal-book.ts';
import { GridhostError } from '../errors/errors.ts';
import { operatorRequest } from './write-requests.ts';

/** The label naming the rule an alert asks for (else its alertname). */
export const RULE_LABEL = 'gridhost_rule';
/** Alertmanager payloads carry every alert of a group: allow more than the other writes. */
export const MAX_SIGNAL_BODY_BYTES = 1024 * 1024;
const MAX_ALERTS = 1000;
const MAX_KEY = 200;
const PRINTABLE = /^[^\p{Cc}\p{Cs}]*$/u;

const bad = (field: string, message: string, found?: unknown): GridhostError =>
  new GridhostError('GH_BAD_REQUEST', `${field}: ${message}`, { field, ...(found !== undefined ? { found: typeof found === 'string' ? found.slice(0, 64) : found } : {}) });

export interface SignalRequest {
  form: 'plain' | 'alertmanager';
  offers: SignalOffer[];
  /** Alerts that asked for nothing (resolved), for the answer. */
  ignored: { alert: string; fingerprint?: string; status: string }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The rule must be one of the pool's signal rules: a 400 that says which exist otherwise. */
function signalRule(policy: Policy, name: string, field: string): string {
  const signals = (policy.signalRules ?? []).map((r) => r.name);
  if (signals.includes(name)) return name;
  const metricRule = policy.rules.find((r) => r.name === name);
  const have = signals.length > 0 ? `its signal rules: ${signals.join(', ')}` : 'it has no strategy: signal rule';
  if (metricRule) throw bad(field, `rule ${name} of pool ${policy.pool} is a ${metricRule.strategy} rule; only strategy: signal rules take signals (${have})`, name);
  throw bad(field, `pool ${policy.pool} has no rule ${name} (${have})`, name);
}

function plain(policy: Policy, body: Record<string, unknown>, client: string): SignalRequest {
  for (const k of Object.keys(body)) {
    if (!['rule', 'key', 'reason', 'by'].includes(k)) throw new GridhostError('GH_BAD_REQUEST', `${k.slice(0, 64)}: unknown field (POST /api/pools/:pool/signal takes rule, key, reason, by, or an Alertmanager webhook payload)`, { field: k.slice(0, 64) });
  }
  if (body.rule === undefined) throw bad('rule', 'is required: the name of a strategy: signal rule, e.g. {"rule": "burst"} (or send an Alertmanager webhook payload)');
  if (typeof body.rule !== 'string') throw bad('rule', 'must be a rule name', body.rule);
  const rule = signalRule(policy, body.rule, 'rule');
  const key = body.key;
  if (key !== undefined && (typeof key !== 'string' || key === '' || key.length > MAX_KEY || !PRINTABLE.test(key))) throw bad('key', `must be 1-${MAX_KEY} printable characters (an idempotency key: a request with a key seen before acts not again)`, typeof key === 'string' ? key : undefined);
  const who = operatorRequest(body, client);
  return {
    form: 'plain',
    offers: [{ key: key === undefined ? `request:${randomUUID()}` : `key:${key}`, rule, from: `${who.by}${who.reason ? `: ${who.reason}` : ''}${key === undefined ? '' : ` (key ${key})`}` }],
    ignored: [],
  };
}

const text = (v: unknown, max = 200): string | undefined => (typeof v === 'string' && PRINTABLE.test(v) ? v.slice(0, max) : undefined);

/** Alertmanager derives the fingerprint from the labels; an alert without one gets the same kind of key. */
function fingerprintOf(labels: Record<string, string>): string {
  const text = Object.keys(labels).sort().map((k) => `${k}\u0000${labels[k]}`).join('\u0001');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function alertmanager(policy: Policy, body: Record<string, unknown>): SignalRequest {
  const alerts = body.alerts;
  if (!Array.isArray(alerts)) throw bad('alerts', 'must be the list of alerts of an Alertmanager webhook payload');
  if (alerts.length > MAX_ALERTS) throw bad('alerts', `at most ${MAX_ALERTS} alerts per request (found ${alerts.length})`);
  const offers: SignalOffer[] = [];
  const ignored: SignalRequest['ignored'] = [];
  alerts.forEach((a, i) => {
    const field = `alerts[${i}]`;
    if (!isObject(a)) throw bad(field, 'must be an alert object');
    if (!isObject(a.labels)) throw bad(`${field}.labels`, 'must be an object of label names to values');
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(a.labels)) {
      if (typeof v !== 'string') throw bad(`${field}.labels.${k.slice(0, 64)}`, 'must be a string', v);
      labels[k] = v;
    }
    const status = a.status;
    if (status !== 'firing' && status !== 'resolved') throw bad(`${field}.status`, 'must be firing or resolved', status);
    const name = labels[RULE_LABEL] ?? labels.alertname;
    if (name === undefined) throw bad(`${field}.labels`, `names no rule: give the alert a ${RULE_LABEL} label (or an alertname that is the rule's name)`);
    const startsAt = text(a.startsAt, 64);
    if (startsAt === undefined || Number.isNaN(Date.parse(startsAt))) throw bad(`${field}.startsAt`, 'must be the time the alert began firing (RFC 3339)', a.startsAt);
    const fingerprint = a.fingerprint === undefined ? fingerprintOf(labels) : text(a.fingerprint, 64);
    if (fingerprint === undefined || fingerprint === '') throw bad(`${field}.fingerprint`, 'must be the alert\'s fingerprint (a string)', a.fingerprint);
    const alertname = text(labels.alertname, 100) ?? name;
    if (status === 'resolved') {
      ignored.push({ alert: alertname, fingerprint, status });
      return;
    }
    const rule = signalRule(policy, name, labels[RULE_LABEL] !== undefined ? `${field}.labels.${RULE_LABEL}` : `${field}.labels.alertname`);
    offers.push({ key: `alert:${fingerprint}:${startsAt}`, rule, from: `alert ${alertname} (fingerprint ${fingerprint}, firing since ${startsAt})` });
  });
  return { form: 'alertmanager', offers, ignored };
}

/** Pure but for the random key of a plain request without one: the request as offers, or a 400. */
export function parseSignalRequest(policy: Policy, body: Record<string, unknown>, client: string): SignalRequest {
  return 'alerts' in body ? alertmanager(policy, body) : plain(policy, body, client);
}
