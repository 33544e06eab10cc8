// gridhost.yaml + GRIDHOST_* environment overrides -> validated, frozen GridhostConfig.
// Precedence: environment > file > defaults. Relative paths resolve against `cwd`.
// Secrets (api token, MongoDB and Prometheus passwords) never appear in issues; use redactConfig to log.

import fs from 'node:fs';
import path from 'node:path';
import { GridhostError, PolicyError, type ValidationIssue } from '../errors/errors.ts';
import { deepFreeze } from '../policy/deep-freeze.ts';
import { tryParseDuration } from '../policy/duration.ts';
import { sortIssues } from '../policy/parse-policy.ts';
import { checkListen, decodeYaml, type Field, type Fields, type YamlReader } from '../policy/yaml-reader.ts';
import type { GridhostConfig } from './config-types.ts';
import { BALANCER_KEYS } from '../drivers/balancer/balancer-keys.ts';
import { HYPERVISOR_KEYS } from '../drivers/hypervisor/hypervisor-keys.ts';
import type { ConfigContext, ConfigSection } from '../drivers/driver-keys.ts';
import type { DriverSettings, StoreSettings } from './config-types.ts';
import { redactUri } from './redact-uri.ts';
import { STORE_KEYS, type StoreKeys } from '../store/store-keys.ts';
import { chooseDriver } from '../drivers/driver-keys.ts';

export const DEFAULT_CONFIG_FILE = 'gridhost.yaml';
export const DEFAULTS_SOURCE = '<defaults>';
/** A config file larger than this is refused unread (ours is 2.5 KiB; a long dom0s list fits). */
export const CONFIG_MAX_BYTES = 1024 * 1024;

export interface LoadConfigOptions {
  /** Config file; else $GRIDHOST_CONFIG; else ./gridhost.yaml when it exists; else defaults only. */
  file?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** The drivers' own sections of gridhost.yaml, from the registries (one module per driver). */
const DRIVER_CONFIG_SECTIONS: readonly ConfigSection<keyof DriverSettings>[] = [...HYPERVISOR_KEYS, ...BALANCER_KEYS].flatMap((d) => (d.config ? [d.config] : []));

export const CONFIG_TOP_KEYS = ['api', 'policies_dir', 'templates_dir', 'data_dir', 'guests_dir', 'store', 'limits', 'cluster', 'log', 'prometheus'] as const;
const PROMETHEUS_URL_RE = /^https?:\/\/[^\s]+$/;
const MAX_PROMETHEUS_TIMEOUT_MS = 60_000;
const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
const TOKEN_RE = /^[\x21-\x7e]+$/;
const MAX_HARD_MAX = 1000;

/** Mutable draft of the config while file and env are applied. */
interface Draft {
  listen: string;
  token?: string;
  policiesDir: string;
  templatesDir: string;
  dataDir: string;
  guestsDir?: string;
  /** The store kind chosen so far and what was set of its keys. */
  store: { kind: keyof StoreSettings; set: Partial<StoreSettings[keyof StoreSettings]> };
  hardMax: number;
  sampleRetentionMs: number;
  historyRetentionMs: number;
  leaseMs: number;
  reconcileIntervalMs: number;
  logLevel: GridhostConfig['log']['level'];
  logFormat: GridhostConfig['log']['format'];
  drivers: DriverSettings;
  prometheusUrl?: string;
  prometheusTimeoutMs: number;
}

function draftDefaults(): Draft {
  return {
    listen: '127.0.0.1:8700',
    policiesDir: './policies',
    templatesDir: './templates',
    dataDir: './data',
    hardMax: 8,
    sampleRetentionMs: 7 * 86_400_000,
    historyRetentionMs: 30 * 86_400_000,
    leaseMs: 15_000,
    reconcileIntervalMs: 5 * 60_000,
    logLevel: 'info',
    logFormat: 'auto',
    prometheusTimeoutMs: 5000,
    drivers: {},
    store: { kind: STORE_KEYS[0]!.name, set: {} },
  };
}

export function loadConfig(opts: LoadConfigOptions): GridhostConfig {
  const { env, cwd } = opts;
  const issues: ValidationIssue[] = [];
  const d = draftDefaults();
  const home = nonEmpty(env.HOME);
  const abs = (p: string): string => path.resolve(cwd, home !== undefined && (p === '~' || p.startsWith('~/')) ? path.join(home, p.slice(1)) : p);

  const file = configFileOf(opts);
  const source = file ?? DEFAULTS_SOURCE;
  if (file !== undefined) {
    const read = readConfigFile(file);
    if ('issue' in read) issues.push(read.issue);
    else issues.push(...applyFile(read.text, file, d, { resolvePath: abs }));
  }
  issues.push(...applyEnv(env, d));
  if (issues.length > 0) throw new PolicyError(issues, 'GH_CONFIG_INVALID');

  const dataDir = abs(d.dataDir);
  const cfg: GridhostConfig = {
    source,
    api: d.token !== undefined ? { listen: d.listen, token: d.token } : { listen: d.listen },
    policiesDir: abs(d.policiesDir),
    templatesDir: abs(d.templatesDir),
    guestsDir: d.guestsDir !== undefined ? abs(d.guestsDir) : path.join(dataDir, 'guests'),
    store: storeKeysOf(d.store.kind).finish(d.store.set, { dataDir, resolvePath: abs }),
    limits: { hardMax: d.hardMax, sampleRetentionMs: d.sampleRetentionMs, historyRetentionMs: d.historyRetentionMs },
    cluster: { leaseMs: d.leaseMs, reconcileIntervalMs: d.reconcileIntervalMs },
    log: { level: d.logLevel, format: d.logFormat },
    ...(d.prometheusUrl !== undefined ? { prometheus: { url: d.prometheusUrl, timeoutMs: d.prometheusTimeoutMs } } : {}),
    drivers: d.drivers,
  };
  return deepFreeze(cfg);
}

/** The config file loadConfig reads (absolute), or undefined when only defaults apply. */
export function configFileOf(opts: LoadConfigOptions): string | undefined {
  const explicit = opts.file ?? nonEmpty(opts.env.GRIDHOST_CONFIG);
  const candidate = path.resolve(opts.cwd, explicit ?? DEFAULT_CONFIG_FILE);
  return explicit !== undefined || fs.existsSync(candidate) ? candidate : undefined;
}

function readConfigFile(file: string): { text: string } | { issue: ValidationIssue } {
  const at = { file, line: 1, col: 1, path: '' };
  try {
    const size = fs.statSync(file).size;
    if (size > CONFIG_MAX_BYTES) return { issue: { ...at, message: `config file is ${Math.ceil(size / 1024)} KiB; the limit is ${CONFIG_MAX_BYTES / 1024} KiB` } };
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { issue: { ...at, message: `cannot read config file (${code})` } };
  }
}

/** Check one config file by itself (no environment overrides): every issue, sorted. */
export function checkConfigFile(file: string): ValidationIssue[] {
  const read = readConfigFile(file);
  if ('issue' in read) return [read.issue];
  return applyFile(read.text, file, draftDefaults(), { resolvePath: (p) => p });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

function applyFile(text: string, file: string, d: Draft, ctx: ConfigContext): ValidationIssue[] {
  const { reader: r, root } = decodeYaml(text, file);
  if (root === undefined) return r.issues;
  const top = r.map(root, [...CONFIG_TOP_KEYS, ...DRIVER_CONFIG_SECTIONS.flatMap((s) => s.keys)]);
  if (top === undefined) return r.issues;

  const api = r.map(top.get('api'), ['listen', 'token']);
  if (api) {
    const listen = r.str(api.get('listen'));
    if (listen !== undefined) {
      const bad = checkListen(listen);
      if (bad) r.issue(api.get('listen'), bad);
      else d.listen = listen;
    }
    const tf = api.get('token');
    if (tf.value !== undefined) {
      const t = tokenOf(r, tf);
      if (t !== undefined) d.token = t;
    }
  }
  const dir = (key: string, set: (v: string) => void): void => {
    const f = top.get(key);
    const v = r.str(f);
    if (v === undefined) return;
    if (v === '' || v.includes('\0')) r.issue(f, 'must be a non-empty path');
    else set(v);
  };
  dir('policies_dir', (v) => (d.policiesDir = v));
  dir('templates_dir', (v) => (d.templatesDir = v));
  dir('data_dir', (v) => (d.dataDir = v));
  dir('guests_dir', (v) => (d.guestsDir = v));

  const store = r.map(top.get('store'), ['kind', ...new Set(STORE_KEYS.flatMap((k) => k.keys))]);
  if (store) {
    const kind = chooseDriver(r, store.get('kind'), STORE_KEYS);
    if (kind) {
      refuseOtherStoreKeys(r, store, kind);
      const set = kind.parse(r, store);
      if (set !== undefined) d.store = { kind: kind.name, set };
    }
  }

  const limits = r.map(top.get('limits'), ['hard_max', 'sample_retention', 'history_retention']);
  if (limits) {
    const hm = r.int(limits.get('hard_max'), { min: 1, max: MAX_HARD_MAX });
    if (hm !== undefined) d.hardMax = hm;
    const sr = r.duration(limits.get('sample_retention'), { positive: true });
    if (sr !== undefined) d.sampleRetentionMs = sr;
    const hr = r.duration(limits.get('history_retention'), { positive: true });
    // A scale event is written when it starts and updated when it ends: history must outlive
    // the longest scale action, or pruning could delete an event still being written.
    if (hr !== undefined && hr < 3_600_000) r.issue(limits.get('history_retention'), 'must be at least 1h (scale events are updated when their action ends)');
    else if (hr !== undefined) d.historyRetentionMs = hr;
  }

  const cluster = r.map(top.get('cluster'), ['lease', 'reconcile_interval']);
  if (cluster) {
    const lease = r.duration(cluster.get('lease'), { positive: true });
    // Renewed every third of it: below 1 s a busy store or event loop would lose leases.
    if (lease !== undefined && lease < 1000) r.issue(cluster.get('lease'), 'must be at least 1s (the lease is renewed every third of it)');
    else if (lease !== undefined) d.leaseMs = lease;
    const ri = r.duration(cluster.get('reconcile_interval'), { positive: true });
    if (ri !== undefined) d.reconcileIntervalMs = ri;
  }

  const log = r.map(top.get('log'), ['level', 'format']);
  if (log) {
    const level = r.oneOf(log.get('level'), LOG_LEVELS);
    if (level !== undefined) d.logLevel = level;
    const format = r.oneOf(log.get('format'), LOG_FORMATS);
    if (format !== undefined) d.logFormat = format;
  }

  const prom = r.map(top.get('prometheus'), ['url', 'timeout']);
  if (prom) {
    const uf = prom.get('url');
    const u = uf.value === undefined ? undefined : r.str(uf);
    if (uf.value === undefined) r.issue(uf, 'is required when prometheus is set (http://127.0.0.1:9090)');
    else if (u !== undefined) {
      const why = prometheusUrlIssue(u);
      if (why) r.secretIssue(uf, why);
      else d.prometheusUrl = u;
    }
    const to = r.duration(prom.get('timeout'), { positive: true });
    if (to !== undefined && to > MAX_PROMETHEUS_TIMEOUT_MS) r.issue(prom.get('timeout'), 'must be at most 60s (a query is asked every sampling interval)');
    else if (to !== undefined) d.prometheusTimeoutMs = to;
  }

  for (const section of DRIVER_CONFIG_SECTIONS) {
    if (section.keys.some((k) => top.has(k))) putSection(d.drivers, section, r, top, ctx);
  }
  return sortIssues(r.issues);
}

/** One driver's sections into `out` under its name (generic, so the settings keep their type). */
function putSection<K extends keyof DriverSettings>(out: DriverSettings, section: ConfigSection<K>, r: YamlReader, top: Fields, ctx: ConfigContext): void {
  const v = section.parse(r, top, ctx);
  if (v !== undefined) out[section.name] = v;
}

/** Why `u` is not a usable Prometheus base URL (the message never repeats it: it may hold a password). */
function prometheusUrlIssue(u: string): string | undefined {
  if (!PROMETHEUS_URL_RE.test(u)) return 'must be an http:// or https:// URL of the Prometheus server, e.g. http://127.0.0.1:9090';
  try {
    const url = new URL(u);
    if (url.search !== '' || url.hash !== '') return 'must be the server\'s base URL, without ?query or #fragment';
  } catch {
    return 'must be an http:// or https:// URL of the Prometheus server, e.g. http://127.0.0.1:9090';
  }
  return undefined;
}

function tokenOf(r: YamlReader, f: Field): string | undefined {
  const node = f.value as { value?: unknown } | undefined;
  const v = node?.value;
  if (typeof v !== 'string' || !TOKEN_RE.test(v)) {
    r.secretIssue(f, 'must be a string of printable characters without spaces');
    return undefined;
  }
  return v;
}

function applyEnv(env: NodeJS.ProcessEnv, d: Draft): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const bad = (name: string, p: string, message: string, found?: string): void => {
    const i: ValidationIssue = { file: `$${name}`, line: 1, col: 1, path: p, message };
    if (found !== undefined) i.found = found;
    issues.push(i);
  };
  const get = (name: string): string | undefined => nonEmpty(env[name]);

  const listen = get('GRIDHOST_API_LISTEN');
  if (listen !== undefined) {
    const why = checkListen(listen);
    if (why) bad('GRIDHOST_API_LISTEN', 'api.listen', why, listen);
    else d.listen = listen;
  }
  const token = get('GRIDHOST_API_TOKEN');
  if (token !== undefined) {
    if (TOKEN_RE.test(token)) d.token = token;
    else bad('GRIDHOST_API_TOKEN', 'api.token', 'must be printable characters without spaces');
  }
  const lease = get('GRIDHOST_LEASE');
  if (lease !== undefined) {
    const r = tryParseDuration(lease);
    if (!r.ok || r.ms < 1000) bad('GRIDHOST_LEASE', 'cluster.lease', 'must be a duration of at least 1s, e.g. 15s', lease);
    else d.leaseMs = r.ms;
  }
  const pd = get('GRIDHOST_POLICIES_DIR');
  if (pd !== undefined) d.policiesDir = pd;
  const td = get('GRIDHOST_TEMPLATES_DIR');
  if (td !== undefined) d.templatesDir = td;
  const dd = get('GRIDHOST_DATA_DIR');
  if (dd !== undefined) {
    // The data folder holds both: setting it moves them, whatever the file said.
    d.dataDir = dd;
    d.guestsDir = undefined;
    if (storeKeysOf(d.store.kind).inDataDir) d.store = { kind: d.store.kind, set: {} };
  }
  // A store's variable chooses its kind; only one may be set.
  const storeEnv = STORE_KEYS.flatMap((k) => (k.env && get(k.env.name) !== undefined ? [{ keys: k, env: k.env, value: get(k.env.name)! }] : []));
  const last = storeEnv.at(-1);
  if (storeEnv.length > 1) bad(last!.env.name, 'store', `set only one of ${storeEnv.map((e) => e.env.name).join(' and ')}`);
  else if (last) {
    const set = last.env.parse(last.value);
    if ('issue' in set) bad(last.env.name, `store.${last.env.key}`, set.issue);
    else d.store = { kind: last.keys.name, set };
  }
  const pu = get('GRIDHOST_PROMETHEUS_URL');
  if (pu !== undefined) {
    const why = prometheusUrlIssue(pu);
    if (why) bad('GRIDHOST_PROMETHEUS_URL', 'prometheus.url', why);
    else d.prometheusUrl = pu;
  }
  const hm = get('GRIDHOST_HARD_MAX');
  if (hm !== undefined) {
    const n = /^\d+$/.test(hm.trim()) ? Number(hm.trim()) : NaN;
    if (Number.isInteger(n) && n >= 1 && n <= MAX_HARD_MAX) d.hardMax = n;
    else bad('GRIDHOST_HARD_MAX', 'limits.hard_max', `must be an integer from 1 to ${MAX_HARD_MAX}`, hm);
  }
  const level = get('GRIDHOST_LOG_LEVEL');
  if (level !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(level)) d.logLevel = level as Draft['logLevel'];
    else bad('GRIDHOST_LOG_LEVEL', 'log.level', `must be one of ${LOG_LEVELS.join(' | ')}`, level);
  }
  const format = get('GRIDHOST_LOG_FORMAT');
  if (format !== undefined) {
    if ((LOG_FORMATS as readonly string[]).includes(format)) d.logFormat = format as Draft['logFormat'];
    else bad('GRIDHOST_LOG_FORMAT', 'log.format', `must be one of ${LOG_FORMATS.join(' | ')}`, format);
  }
  return issues;
}

function storeKeysOf(kind: keyof StoreSettings): StoreKeys {
  const k = STORE_KEYS.find((x) => x.name === kind);
  if (!k) throw new GridhostError('GH_CONFIG_INVALID', `store.kind ${kind} is not registered`);
  return k;
}

/** A key of another store kind: an issue at its line (its value unrepeated when it is secret). */
function refuseOtherStoreKeys(r: YamlReader, store: Fields, kind: StoreKeys): void {
  for (const other of STORE_KEYS) {
    for (const key of other.keys) {
      if (kind.keys.includes(key) || !store.has(key)) continue;
      const message = `${key} is for kind: ${other.name}; ${kind.name} takes ${kind.keys.join(', ')}`;
      if (other.secretKeys?.includes(key)) r.secretIssue(store.get(key), message);
      else r.issue(store.get(key), message);
    }
  }
}

export { redactUri };

/** A copy safe to log: api token and any URI password replaced by "***". */
export function redactConfig(cfg: GridhostConfig): GridhostConfig {
  const copy = structuredClone(cfg) as GridhostConfig;
  if (copy.api.token !== undefined) copy.api.token = '***';
  copy.store = storeKeysOf(copy.store.kind).redact?.(copy.store) ?? copy.store;
  if (copy.prometheus !== undefined) copy.prometheus.url = redactUri(copy.prometheus.url);
  return copy;
}

