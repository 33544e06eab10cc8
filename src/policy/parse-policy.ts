// One policy file: decode (YAML with positions) -> defaults -> validate (every issue at
// once) -> canonical Policy -> deep-freeze. Pure apart from the injected `exists` check.

import path from 'node:path';
import { DEFAULT_BALANCER, type CloneMethod, type GuestTemplateRef, type HealthCheckSettings, type OnMissing, type Policy } from '../domain/policy.ts';
import { PolicyError, type ValidationIssue } from '../errors/errors.ts';
import { deepFreeze } from './deep-freeze.ts';
import { parseRules, parseSchedules } from './parse-rules.ts';
import { checkListen, decodeYaml, type Field, type YamlReader } from './yaml-reader.ts';

export const POOL_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const DEFAULT_HARD_MAX = 8;

export interface PolicyOptions {
  /** Folder that relative guest.template / guest.image paths are resolved under. */
  templatesDir: string;
  /** No policy may set max above this (config limits.hardMax); default 8. */
  hardMax?: number;
  /** Existence check for guest.template and (local driver) guest.image. Omitted = not checked. */
  exists?: (absPath: string) => boolean;
}

export type PolicyResult =
  | { ok: true; policy: Policy; /** Where `pool:`'s value is written, for cross-file issues. */ poolAt: { line: number; col: number } }
  | { ok: false; issues: ValidationIssue[] };

const TOP_KEYS = ['pool', 'min', 'max', 'guest', 'balancer', 'sampling', 'warmup', 'scale_out', 'scale_in', 'on_missing', 'breaker', 'rules', 'schedules'] as const;
const GUEST_KEYS = ['driver', 'template', 'image', 'clone', 'health_path', 'metrics_path', 'boot_timeout', 'stop_timeout', 'drain_timeout'] as const;
const CLONES: readonly CloneMethod[] = ['auto', 'reflink', 'copy', 'lvm-snapshot', 'qcow2'];
const LOCAL_CLONES: readonly CloneMethod[] = ['auto', 'reflink', 'copy'];
const DRIVERS = ['local', 'xen'] as const;
/** A dom0 path goes into commands run over SSH: allow only plainly safe characters. */
const DOM0_PATH_RE = /^\/[A-Za-z0-9._/@+:=,-]*$/;
const HTTP_PATH_RE = /^\/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]*$/;

const POOL_MSG =
  'must be 1-32 characters of a-z, 0-9 and "-", starting with a letter: it becomes part of file paths, ' +
  'command arguments and guest names, so "/", "..", spaces and shell characters are not allowed';

/** Parse and validate one policy; returns every issue found. */
export function tryParsePolicy(text: string, file: string, opts: PolicyOptions): PolicyResult {
  const { reader: r, root } = decodeYaml(text, file);
  if (root === undefined) return { ok: false, issues: r.issues };
  const hardMax = opts.hardMax ?? DEFAULT_HARD_MAX;
  const top = r.map(root, TOP_KEYS);
  if (top === undefined) return { ok: false, issues: r.issues };

  const pool = r.str(top.get('pool'), { required: true, pattern: POOL_NAME_RE, patternMsg: POOL_MSG });
  const min = r.int(top.get('min'), { def: 2, min: 1, max: hardMax, maxNote: '(limits.hard_max)' });
  const max = r.int(top.get('max'), { def: Math.min(8, hardMax), min: 1, max: hardMax, maxNote: '(limits.hard_max)' });
  if (min !== undefined && max !== undefined && min > max) {
    if (top.has('min')) r.issue(top.get('min'), `must be <= max (${max})`);
    else r.issue(top.get('max'), `must be >= min (${min}, the default)`);
  }

  const guest = parseGuest(r, top.get('guest'), opts);

  const bal = r.map(top.get('balancer'), ['listen', 'check', 'response_timeout']);
  const listenField = bal?.get('listen');
  let listen = listenField ? r.str(listenField, { def: '127.0.0.1:8080' }) : '127.0.0.1:8080';
  if (listen !== undefined && listenField) {
    const bad = checkListen(listen);
    if (bad) {
      r.issue(listenField, bad);
      listen = undefined;
    }
  }

  // Only what the file sets: the balancer's defaults depend on how it reaches the guests.
  const chk = bal ? r.map(bal.get('check'), ['interval', 'timeout', 'rise', 'fall']) : undefined;
  const check: Partial<HealthCheckSettings> = {};
  if (chk?.has('interval')) check.intervalMs = r.duration(chk.get('interval'), { positive: true });
  if (chk?.has('timeout')) check.timeoutMs = r.duration(chk.get('timeout'), { positive: true });
  if (chk?.has('rise')) check.rise = r.int(chk.get('rise'), { min: 1, max: 100 });
  if (chk?.has('fall')) check.fall = r.int(chk.get('fall'), { min: 1, max: 100 });

  const responseTimeoutMs = bal ? r.duration(bal.get('response_timeout'), { def: DEFAULT_BALANCER.responseTimeoutMs, positive: true }) : DEFAULT_BALANCER.responseTimeoutMs;

  const samp = r.map(top.get('sampling'), ['interval', 'window']);
  const intervalMs = samp ? r.duration(samp.get('interval'), { def: 5_000, positive: true }) : 5_000;
  const windowMs = samp ? r.duration(samp.get('window'), { def: 300_000, positive: true }) : 300_000;
  if (samp && intervalMs !== undefined && windowMs !== undefined && windowMs < intervalMs) {
    r.issue(samp.has('window') ? samp.get('window') : samp.get('interval'), `sampling window must be >= the interval (${intervalMs}ms) so it holds at least one sample`);
  }
  const warmupMs = r.duration(top.get('warmup'), { def: intervalMs === undefined ? 0 : 2 * intervalMs });

  const out = r.map(top.get('scale_out'), ['cooldown']);
  const outCooldown = out ? r.duration(out.get('cooldown'), { def: 60_000 }) : 60_000;
  const inn = r.map(top.get('scale_in'), ['cooldown', 'stabilization']);
  const inCooldown = inn ? r.duration(inn.get('cooldown'), { def: 120_000 }) : 120_000;
  const stabilization = inn ? r.duration(inn.get('stabilization'), { def: 300_000 }) : 300_000;

  const onMissing = r.oneOf<OnMissing>(top.get('on_missing'), ['hold', 'scale-out'], { def: 'hold' });

  const brk = r.map(top.get('breaker'), ['failures', 'open_for']);
  const failures = brk ? r.int(brk.get('failures'), { def: 3, min: 1 }) : 3;
  const openMs = brk ? r.duration(brk.get('open_for'), { def: 300_000, positive: true }) : 300_000;

  const rules = parseRules(r, top.get('rules'));
  const schedules = parseSchedules(r, top.get('schedules'), { min, max, hardMax });

  if (r.issues.length > 0) return { ok: false, issues: sortIssues(r.issues) };
  const policy: Policy = {
    file: path.resolve(file),
    pool: pool as string,
    min: min as number,
    max: max as number,
    guest: guest as GuestTemplateRef,
    balancer: { listen: listen as string, check, responseTimeoutMs: responseTimeoutMs as number },
    sampling: { intervalMs: intervalMs as number, windowMs: windowMs as number },
    warmupMs: warmupMs as number,
    scaleOut: { cooldownMs: outCooldown as number },
    scaleIn: { cooldownMs: inCooldown as number, stabilizationMs: stabilization as number },
    onMissing: onMissing as OnMissing,
    rules,
    schedules,
    breaker: { failures: failures as number, openMs: openMs as number },
  };
  return { ok: true, policy: deepFreeze(policy), poolAt: r.pos(top.get('pool').value) };
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

function parseGuest(r: YamlReader, f: Field, opts: PolicyOptions): GuestTemplateRef | undefined {
  const g = r.map(f, GUEST_KEYS, { required: true });
  if (g === undefined) return undefined;
  const driver = r.oneOf(g.get('driver'), DRIVERS, { def: 'local' });
  const clone = r.oneOf(g.get('clone'), CLONES, { def: 'auto' });
  if (driver === 'local' && clone !== undefined && !LOCAL_CLONES.includes(clone)) {
    r.issue(g.get('clone'), `clone ${clone} needs the xen driver; the local driver supports ${LOCAL_CLONES.join(' | ')}`);
  }
  const templatesDir = path.resolve(opts.templatesDir);
  const template = underTemplates(r, g.get('template'), templatesDir, opts.exists, 'template file');
  let image: string | undefined;
  if (driver === 'xen') {
    // A path on dom0: not checked locally, but it reaches a remote command line.
    image = r.str(g.get('image'), {
      required: true,
      pattern: DOM0_PATH_RE,
      patternMsg: 'a xen image is an absolute path on dom0 made of letters, digits and ._/@+:=,- only (it is passed to remote commands)',
    });
    if (image !== undefined && image.split('/').includes('..')) {
      r.issue(g.get('image'), 'a xen image path must not contain ".."');
      image = undefined;
    }
  } else {
    image = underTemplates(r, g.get('image'), templatesDir, opts.exists, 'base image');
  }
  const httpPath = { pattern: HTTP_PATH_RE, patternMsg: 'must be a URL path starting with "/"' };
  const healthPath = r.str(g.get('health_path'), { def: '/healthz', ...httpPath });
  const metricsPath = r.str(g.get('metrics_path'), { def: '/metrics', ...httpPath });
  const bootTimeoutMs = r.duration(g.get('boot_timeout'), { def: 60_000, positive: true });
  const stopTimeoutMs = r.duration(g.get('stop_timeout'), { def: 10_000, positive: true });
  const drainTimeoutMs = r.duration(g.get('drain_timeout'), { def: 30_000, positive: true });
  return {
    driver: driver as string,
    template: template as string,
    image: image as string,
    clone: clone as CloneMethod,
    healthPath: healthPath as string,
    metricsPath: metricsPath as string,
    bootTimeoutMs: bootTimeoutMs as number,
    stopTimeoutMs: stopTimeoutMs as number,
    drainTimeoutMs: drainTimeoutMs as number,
  };
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
