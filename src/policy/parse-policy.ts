// One policy file: decode (YAML with positions) -> defaults -> validate (every issue at
// once) -> canonical Policy -> deep-freeze. Pure apart from the injected `exists` check.

import path from 'node:path';
import { DEFAULT_GUEST_METRICS, type PoolMetricFacts } from '../domain/metric-catalogue.ts';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type BalancerSettings, DEFAULT_WEBHOOK, VICTIM_ORDERS, type WebhookSettings, type GuestTemplateRef, type HealthCheckSettings, type OnMissing, type Policy, type PolicyMode, type UnknownGuests, type VictimOrder, type WhileBooting } from '../domain/policy.ts';
import { PolicyError, type ValidationIssue } from '../errors/errors.ts';
import { deepFreeze } from './deep-freeze.ts';
import { parseHooks } from './parse-hooks.ts';
import { parseRollout } from './parse-rollout.ts';
import { parseFlapBudget } from './parse-flap-budget.ts';
import { parseWarmPool } from './parse-warm-pool.ts';
import { parseContention } from './parse-contention.ts';
import { parseGuestMetrics, parseRules, parseSchedules } from './parse-rules.ts';
import { decodeYaml, type Field, type ReaderRecorder, type YamlReader } from './yaml-reader.ts';
import { BALANCER_KEYS } from '../drivers/balancer/balancer-keys.ts';
import { HYPERVISOR_KEYS } from '../drivers/hypervisor/hypervisor-keys.ts';
import { allPolicyKeys, chooseDriver, refuseForeignKeys } from '../drivers/driver-keys.ts';

export const POOL_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const DEFAULT_HARD_MAX = 8;

export interface PolicyOptions {
  /** Folder that relative guest.template / guest.image paths are resolved under. */
  templatesDir: string;
  /** No policy may set max above this (config limits.hardMax); default 8. */
  hardMax?: number;
  /** Existence check for guest.template and (local driver) guest.image. Omitted = not checked. */
  exists?: (absPath: string) => boolean;
  /** Sees every field the validator reads and how (the JSON Schema is built from it). */
  recorder?: ReaderRecorder;
  /** Whether a Prometheus server is configured (prometheus.url); false refuses rules with
   *  source: prometheus. Omitted = not checked (the simulator). */
  prometheus?: boolean;
  /** The configured hypervisor drivers that cannot pause guests (no Hypervisor.pause/unpause):
   *  warm_pool is refused for their pools. Omitted = not checked (the simulator). Plain data:
   *  it crosses to the policy checker's worker thread. */
  unpausableDrivers?: readonly string[];
}

export type PolicyResult =
  | {
      ok: true;
      policy: Policy;
      /** Where `pool:`'s value is written, for cross-file issues. */
      poolAt: { line: number; col: number };
      /** Problems that do not stop the policy (severity 'warning'), e.g. a file named unlike its pool. */
      warnings: ValidationIssue[];
    }
  | { ok: false; issues: ValidationIssue[]; /** Further issues not carried (a worker's answer is capped; absent = none). */ omitted?: number };

export const POLICY_TOP_KEYS = ['pool', 'mode', 'min', 'max', 'guest', 'balancer', 'sampling', 'warmup', 'scale_out', 'scale_in', 'on_missing', 'unknown_guests', 'breaker', 'auto_heal', 'rollout', 'flap_budget', 'warm_pool', 'contention', 'hooks', 'webhook', 'rules', 'schedules'] as const;
const GUEST_KEYS = ['driver', 'template', 'image', 'clone', 'health_path', 'metrics_path', 'metrics', 'boot_timeout', 'stop_timeout', 'drain_timeout', ...allPolicyKeys(HYPERVISOR_KEYS)];
const HTTP_PATH_RE = /^\/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]*$/;

const POOL_MSG =
  'must be 1-32 characters of a-z, 0-9 and "-", starting with a letter: it becomes part of file paths, ' +
  'command arguments and guest names, so "/", "..", spaces and shell characters are not allowed';

/** Parse and validate one policy; returns every issue found. */
export function tryParsePolicy(text: string, file: string, opts: PolicyOptions): PolicyResult {
  const { reader: r, root } = decodeYaml(text, file, opts.recorder);
  if (root === undefined) return { ok: false, issues: r.issues };
  const hardMax = opts.hardMax ?? DEFAULT_HARD_MAX;
  const top = r.map(root, POLICY_TOP_KEYS);
  if (top === undefined) return { ok: false, issues: r.issues };

  const pool = r.str(top.get('pool'), { required: true, pattern: POOL_NAME_RE, patternMsg: POOL_MSG });
  const min = r.int(top.get('min'), { def: 2, min: 1, max: hardMax, maxNote: '(limits.hard_max)' });
  const max = r.int(top.get('max'), { def: Math.min(8, hardMax), min: 1, max: hardMax, maxNote: '(limits.hard_max)' });
  if (min !== undefined && max !== undefined && min > max) {
    if (top.has('min')) r.issue(top.get('min'), `must be <= max (${max})`);
    else r.issue(top.get('max'), `must be >= min (${min}, the default)`);
  }

  const mode = r.oneOf<PolicyMode>(top.get('mode'), ['act', 'recommend'], { def: 'act' });
  const guest = parseGuest(r, top.get('guest'), opts);
  const facts: PoolMetricFacts | undefined = guest?.driver !== undefined && guest.metrics !== undefined ? { driver: guest.driver, guestMetrics: guest.metrics } : undefined;

  const balancer = parseBalancer(r, top.get('balancer'), pool);

  const samp = r.map(top.get('sampling'), ['interval', 'window']);
  const intervalMs = samp ? r.duration(samp.get('interval'), { def: 5_000, positive: true }) : 5_000;
  const windowMs = samp ? r.duration(samp.get('window'), { def: 300_000, positive: true }) : 300_000;
  if (samp && intervalMs !== undefined && windowMs !== undefined && windowMs < intervalMs) {
    r.issue(samp.has('window') ? samp.get('window') : samp.get('interval'), `sampling window must be >= the interval (${intervalMs}ms) so it holds at least one sample`);
  }
  const warmupMs = r.duration(top.get('warmup'), { def: intervalMs === undefined ? 0 : 2 * intervalMs });

  const out = r.map(top.get('scale_out'), ['cooldown', 'while_booting']);
  const outCooldown = out ? r.duration(out.get('cooldown'), { def: 60_000 }) : 60_000;
  const whileBooting = out ? r.oneOf<WhileBooting>(out.get('while_booting'), ['hold', 'add'], { def: 'add' }) : 'add';
  const inn = r.map(top.get('scale_in'), ['cooldown', 'stabilization', 'victims']);
  const inCooldown = inn ? r.duration(inn.get('cooldown'), { def: 120_000 }) : 120_000;
  const stabilization = inn ? r.duration(inn.get('stabilization'), { def: 300_000 }) : 300_000;
  const victims = inn ? r.oneOf<VictimOrder>(inn.get('victims'), VICTIM_ORDERS, { def: 'newest' }) : 'newest';

  const onMissing = r.oneOf<OnMissing>(top.get('on_missing'), ['hold', 'scale-out'], { def: 'hold' });
  const unknownGuests = r.oneOf<UnknownGuests>(top.get('unknown_guests'), ['retire', 'adopt'], { def: 'retire' });

  const brk = r.map(top.get('breaker'), ['failures', 'open_for']);
  const failures = brk ? r.int(brk.get('failures'), { def: 3, min: 1 }) : 3;
  const openMs = brk ? r.duration(brk.get('open_for'), { def: 300_000, positive: true }) : 300_000;

  const heal = r.map(top.get('auto_heal'), ['enabled', 'max_concurrent']);
  const healEnabled = heal ? r.bool(heal.get('enabled'), { def: DEFAULT_AUTO_HEAL.enabled }) : DEFAULT_AUTO_HEAL.enabled;
  const healMax = heal ? r.int(heal.get('max_concurrent'), { def: DEFAULT_AUTO_HEAL.maxConcurrent, min: 1, max: hardMax, maxNote: '(limits.hard_max)' }) : DEFAULT_AUTO_HEAL.maxConcurrent;

  const rollout = parseRollout(r, top.get('rollout'), hardMax);
  const flapBudget = parseFlapBudget(r, top.get('flap_budget'));
  const warmPool = parseWarmPool(r, top.get('warm_pool'), { hardMax, driver: guest?.driver, ...(opts.unpausableDrivers ? { unpausable: opts.unpausableDrivers } : {}) });
  const contention = parseContention(r, top.get('contention'));
  const hooks = parseHooks(r, top.get('hooks'), { templatesDir: opts.templatesDir, ...(opts.exists ? { exists: opts.exists } : {}) });
  const { rules, signalRules } = parseRules(r, top.get('rules'), facts, opts.prometheus !== undefined ? { prometheus: opts.prometheus } : {});
  const webhook = parseWebhook(r, top.get('webhook'));
  const schedules = parseSchedules(r, top.get('schedules'), { min, max, hardMax });

  if (r.issues.length > 0) return { ok: false, issues: sortIssues(r.issues) };
  const policy: Policy = {
    file: path.resolve(file),
    pool: pool as string,
    mode: mode as PolicyMode,
    min: min as number,
    max: max as number,
    guest: guest as GuestTemplateRef,
    balancer: balancer as BalancerSettings,
    sampling: { intervalMs: intervalMs as number, windowMs: windowMs as number },
    warmupMs: warmupMs as number,
    scaleOut: { cooldownMs: outCooldown as number, whileBooting: whileBooting as WhileBooting },
    scaleIn: { cooldownMs: inCooldown as number, stabilizationMs: stabilization as number, victims: victims as VictimOrder },
    onMissing: onMissing as OnMissing,
    unknownGuests: unknownGuests as UnknownGuests,
    rules,
    signalRules,
    ...(webhook !== undefined ? { webhook } : {}),
    schedules,
    hooks,
    breaker: { failures: failures as number, openMs: openMs as number },
    autoHeal: { enabled: healEnabled as boolean, maxConcurrent: healMax as number },
    ...(rollout ? { rollout } : {}),
    ...(flapBudget ? { flapBudget } : {}),
    ...(warmPool ? { warmPool } : {}),
    ...(contention ? { contention } : {}),
  };
  const poolAt = r.pos(top.get('pool').value);
  return { ok: true, policy: deepFreeze(policy), poolAt, warnings: fileNameWarnings(file, policy.pool, poolAt) };
}

/** A file named unlike its pool still loads, but operators look for `<pool>.yaml`: say so. */
function fileNameWarnings(file: string, pool: string, at: { line: number; col: number }): ValidationIssue[] {
  const base = path.basename(file);
  const stem = base.replace(/\.ya?ml$/, '');
  if (stem === pool) return [];
  return [{
    file, line: at.line, col: at.col, path: 'pool', severity: 'warning', found: pool,
    message: `the file is named ${base} but defines pool ${pool}; name it ${pool}.yaml so the pool's policy is found by its name`,
  }];
}

/** Parse and validate one policy; throws PolicyError (GH_POLICY_INVALID) with every issue. */
export function parsePolicy(text: string, file: string, opts: PolicyOptions): Policy {
  const r = tryParsePolicy(text, file, opts);
  if (!r.ok) throw new PolicyError(r.issues);
  return r.policy;
}

export function sortIssues(issues: ValidationIssue[]): ValidationIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => a.issue.line - b.issue.line || a.issue.col - b.issue.col || a.i - b.i)
    .map((x) => x.issue);
}

/**
 * `balancer:`: `driver` (the registered balancer drivers; the first is the default) and `check`
 * are every driver's; the other keys belong to one driver each (balancer-keys.ts), and one of
 * another driver than the pool's is refused at its line. Undefined when an issue was found.
 */
function parseBalancer(r: YamlReader, f: Field, pool: string | undefined): BalancerSettings | undefined {
  const bal = r.map(f, ['driver', 'check', ...allPolicyKeys(BALANCER_KEYS)]);
  const driver = chooseDriver(r, bal?.get('driver'), BALANCER_KEYS);
  // Only what the file sets: the balancer's defaults depend on how it reaches the guests.
  const chk = bal ? r.map(bal.get('check'), ['interval', 'timeout', 'rise', 'fall']) : undefined;
  const check: Partial<HealthCheckSettings> = {};
  if (chk?.has('interval')) check.intervalMs = r.duration(chk.get('interval'), { positive: true });
  if (chk?.has('timeout')) check.timeoutMs = r.duration(chk.get('timeout'), { positive: true });
  if (chk?.has('rise')) check.rise = r.int(chk.get('rise'), { min: 1, max: 100 });
  if (chk?.has('fall')) check.fall = r.int(chk.get('fall'), { min: 1, max: 100 });
  if (driver === undefined) return undefined;
  if (bal) refuseForeignKeys(r, bal, 'balancer', driver, BALANCER_KEYS);
  const own = driver.parsePolicy(r, bal, { pool, check: chk });
  if (own === undefined) return undefined;
  return {
    driver: driver.name,
    listen: '',
    check,
    responseTimeoutMs: DEFAULT_BALANCER.responseTimeoutMs,
    panicThresholdPercent: DEFAULT_BALANCER.panicThresholdPercent,
    ...own,
  };
}

/** The guest section; fields that failed validation are undefined (issues say why). */
function parseGuest(r: YamlReader, f: Field, opts: PolicyOptions): Partial<GuestTemplateRef> | undefined {
  const g = r.map(f, GUEST_KEYS, { required: true });
  if (g === undefined) return undefined;
  const driver = chooseDriver(r, g.get('driver'), HYPERVISOR_KEYS);
  const clone = r.oneOf(g.get('clone'), [...new Set(HYPERVISOR_KEYS.flatMap((d) => d.clones))], { def: 'auto' });
  if (driver !== undefined && clone !== undefined && !driver.clones.includes(clone)) {
    const owners = HYPERVISOR_KEYS.filter((d) => d.clones.includes(clone)).map((d) => d.name);
    r.issue(g.get('clone'), `clone ${clone} needs the ${owners.join(' or ')} driver; the ${driver.name} driver supports ${driver.clones.join(' | ')}`);
  }
  const templatesDir = path.resolve(opts.templatesDir);
  const template = underTemplates(r, g.get('template'), templatesDir, opts.exists, 'template file');
  // An unknown driver's image is read as the default driver's (its own issue is said already).
  const image = (driver ?? HYPERVISOR_KEYS[0]!).image(r, g.get('image'), { templatePath: (f, what) => underTemplates(r, f, templatesDir, opts.exists, what) });
  // Keys only one driver reads (xen: credit): refused for the others, read by their owner.
  if (driver !== undefined) refuseForeignKeys(r, g, 'guest', driver, HYPERVISOR_KEYS);
  const own = driver?.guestKeys?.(r, g) ?? {};
  const httpPath = { pattern: HTTP_PATH_RE, patternMsg: 'must be a URL path starting with "/"' };
  const healthPath = r.str(g.get('health_path'), { def: '/healthz', ...httpPath });
  const metricsPath = r.str(g.get('metrics_path'), { def: '/metrics', ...httpPath });
  const metrics = parseGuestMetrics(r, g.get('metrics'), DEFAULT_GUEST_METRICS);
  const bootTimeoutMs = r.duration(g.get('boot_timeout'), { def: 60_000, positive: true });
  const stopTimeoutMs = r.duration(g.get('stop_timeout'), { def: 10_000, positive: true });
  const drainTimeoutMs = r.duration(g.get('drain_timeout'), { def: 30_000, positive: true });
  return { driver: driver?.name, template, image, clone, healthPath, metricsPath, metrics, bootTimeoutMs, stopTimeoutMs, drainTimeoutMs, ...own };
}

/** A relative path that must stay inside the templates folder; checked for existence when asked. */
function underTemplates(
  r: YamlReader,
  f: Field,
  templatesDir: string,
  exists: ((p: string) => boolean) | undefined,
  what: string,
): string | undefined {
  const rel = r.str(f, { required: true });
  if (rel === undefined) return undefined;
  if (rel === '' || rel.includes('\0')) {
    r.issue(f, `${what} path must not be empty`);
    return undefined;
  }
  if (path.isAbsolute(rel)) {
    r.issue(f, `${what} must be a path relative to the templates folder (${templatesDir}), not an absolute path`);
    return undefined;
  }
  const abs = path.resolve(templatesDir, rel);
  const inside = path.relative(templatesDir, abs);
  if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    r.issue(f, `${what} must stay inside the templates folder (${templatesDir}); ".." may not leave it`);
    return undefined;
  }
  if (exists && !exists(abs)) {
    r.issue(f, `${what} not found: ${abs}`);
    return undefined;
  }
  return abs;
}

/** An environment variable's name: letters, digits and "_", not starting with a digit. */
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * `webhook:`: who may send the pool's signals besides the API token (`secret_env`: the name of an
 * environment variable holding a secret for this pool only; the secret itself is never in the
 * file) and how long signal keys are remembered against redelivery (`remember`, 1m-7d).
 */
function parseWebhook(r: YamlReader, f: Field): WebhookSettings | undefined {
  const w = r.map(f, ['secret_env', 'remember']);
  if (!w) return f.value === undefined ? { ...DEFAULT_WEBHOOK } : undefined;
  const secretEnv = w.has('secret_env') ? r.str(w.get('secret_env'), { pattern: ENV_NAME_RE, patternMsg: 'must be the name of an environment variable (letters, digits and "_"), e.g. GRIDHOST_WEBHOOK_WEB; the secret goes in that variable, never in the file' }) : undefined;
  const rememberMs = r.duration(w.get('remember'), { def: DEFAULT_WEBHOOK.rememberMs, positive: true });
  if (rememberMs !== undefined && (rememberMs < 60_000 || rememberMs > 7 * 24 * 3600_000)) r.issue(w.get('remember'), 'must be from 1m to 7d');
  if (rememberMs === undefined) return undefined;
  return { ...(secretEnv !== undefined ? { secretEnv } : {}), rememberMs };
}
