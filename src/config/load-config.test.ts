import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatIssue, PolicyError } from '../errors/errors.ts';
import type { GridhostConfig } from './config-types.ts';
import { checkConfigFile, CONFIG_MAX_BYTES, loadConfig, redactConfig } from './load-config.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const FP = 'SHA256:' + 'A'.repeat(43);

function tempCwd(t: { teardown: (fn: () => void) => void }, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

function defaultsFor(cwd: string, source: string): GridhostConfig {
  return {
    source,
    api: { listen: '127.0.0.1:8700' },
    policiesDir: path.join(cwd, 'policies'),
    templatesDir: path.join(cwd, 'templates'),
    guestsDir: path.join(cwd, 'data/guests'),
    store: { kind: 'sqlite', path: path.join(cwd, 'data/gridhost.db') },
    limits: { hardMax: 8, sampleRetentionMs: 7 * 86_400_000, historyRetentionMs: 30 * 86_400_000 },
    cluster: { leaseMs: 15_000, reconcileIntervalMs: 300_000 },
    log: { level: 'info', format: 'auto' },
    drivers: {},
  };
}

function configError(t: { throws: Function }, fn: () => unknown): PolicyError {
  const e = (t.throws as (f: () => unknown, o: object) => PolicyError | undefined)(fn, { instanceOf: PolicyError });
  if (!e) throw new Error('expected a PolicyError');
  return e;
}

test('without a config file every default applies, paths absolute against cwd', (t) => {
  const cwd = tempCwd(t);
  t.deepEqual(loadConfig({ env: {}, cwd }), defaultsFor(cwd, '<defaults>'));
});

test('the shipped gridhost.yaml documents exactly the defaults', (t) => {
  const cwd = tempCwd(t);
  const file = path.join(REPO, 'gridhost.yaml');
  t.deepEqual(loadConfig({ file, env: {}, cwd }), defaultsFor(cwd, file));
});

test('./gridhost.yaml in cwd is read when no file is named', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': 'limits:\n  hard_max: 5\n' });
  const c = loadConfig({ env: {}, cwd });
  t.is(c.source, path.join(cwd, 'gridhost.yaml'));
  t.is(c.limits.hardMax, 5);
});

test('GRIDHOST_CONFIG names the config file', (t) => {
  const cwd = tempCwd(t, { 'other.yaml': 'log:\n  level: debug\n' });
  const c = loadConfig({ env: { GRIDHOST_CONFIG: 'other.yaml' }, cwd });
  t.is(c.source, path.join(cwd, 'other.yaml'));
  t.is(c.log.level, 'debug');
});

test('a named config file that does not exist is GH_CONFIG_INVALID', (t) => {
  const cwd = tempCwd(t);
  const e = configError(t, () => loadConfig({ file: 'missing.yaml', env: {}, cwd }));
  t.is(e.code, 'GH_CONFIG_INVALID');
  t.is(e.message, `${path.join(cwd, 'missing.yaml')}:1:1: cannot read config file (ENOENT)`);
});

test('every key of the file is read and relative paths resolve against cwd', (t) => {
  const cwd = tempCwd(t, {
    'g.yaml': [
      'api:',
      '  listen: 0.0.0.0:9000',
      '  token: s3cret-token',
      'policies_dir: /etc/gridhost/policies',
      'templates_dir: tpl',
      'data_dir: var',
      'guests_dir: clones',
      'store:',
      '  kind: sqlite',
      '  path: db/g.db',
      'limits:',
      '  hard_max: 16',
      '  sample_retention: 1d',
      '  history_retention: 90d',
      'cluster:',
      '  lease: 30s',
      '  reconcile_interval: 1m',
      'log:',
      '  level: warn',
      '  format: json',
      'dom0s:',
      '  - name: dom0-a',
      '    address: 192.0.2.10',
      `    host_key_fingerprint: ${FP}`,
      '  - name: dom0-b',
      '    address: xen-b.example.net',
      '    port: 2222',
      '    user: gridhost',
      '    private_key_path: ~/.ssh/id_ed25519',
      `    host_key_fingerprint: ${FP}`,
      '',
    ].join('\n'),
  });
  const c = loadConfig({ file: 'g.yaml', env: { HOME: '/home/op' }, cwd });
  t.deepEqual(c, {
    source: path.join(cwd, 'g.yaml'),
    api: { listen: '0.0.0.0:9000', token: 's3cret-token' },
    policiesDir: '/etc/gridhost/policies',
    templatesDir: path.join(cwd, 'tpl'),
    guestsDir: path.join(cwd, 'clones'),
    store: { kind: 'sqlite', path: path.join(cwd, 'db/g.db') },
    limits: { hardMax: 16, sampleRetentionMs: 86_400_000, historyRetentionMs: 90 * 86_400_000 },
    cluster: { leaseMs: 30_000, reconcileIntervalMs: 60_000 },
    log: { level: 'warn', format: 'json' },
    drivers: {
      xen: {
        xlPath: '/usr/lib/xen-4.17/bin/xl', cfgDir: '/etc/xen/gridhost', memoryMb: 128,
        dom0s: [
          { name: 'dom0-a', address: '192.0.2.10', port: 22, user: 'root', hostKeyFingerprint: FP },
          { name: 'dom0-b', address: 'xen-b.example.net', port: 2222, user: 'gridhost', privateKeyPath: '/home/op/.ssh/id_ed25519', hostKeyFingerprint: FP },
        ],
      },
    },
  });
});

test('data_dir moves the sqlite file and the guests folder', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': 'data_dir: /var/lib/gridhost\n' });
  const c = loadConfig({ env: {}, cwd });
  t.deepEqual([c.store, c.guestsDir], [{ kind: 'sqlite', path: '/var/lib/gridhost/gridhost.db' }, '/var/lib/gridhost/guests']);
});

const envCases: { rule: string; env: Record<string, string>; get: (c: GridhostConfig) => unknown; want: (cwd: string) => unknown }[] = [
  { rule: 'GRIDHOST_API_LISTEN sets api.listen', env: { GRIDHOST_API_LISTEN: '127.0.0.1:9999' }, get: (c) => c.api.listen, want: () => '127.0.0.1:9999' },
  { rule: 'GRIDHOST_API_TOKEN sets api.token', env: { GRIDHOST_API_TOKEN: 'from-env' }, get: (c) => c.api.token, want: () => 'from-env' },
  { rule: 'GRIDHOST_POLICIES_DIR sets policiesDir', env: { GRIDHOST_POLICIES_DIR: 'pol' }, get: (c) => c.policiesDir, want: (cwd) => path.join(cwd, 'pol') },
  { rule: 'GRIDHOST_TEMPLATES_DIR sets templatesDir', env: { GRIDHOST_TEMPLATES_DIR: '/opt/t' }, get: (c) => c.templatesDir, want: () => '/opt/t' },
  {
    rule: 'GRIDHOST_DATA_DIR sets the sqlite path and guestsDir, over the file',
    env: { GRIDHOST_DATA_DIR: '/data' },
    get: (c) => [c.store, c.guestsDir],
    want: () => [{ kind: 'sqlite', path: '/data/gridhost.db' }, '/data/guests'],
  },
  { rule: 'GRIDHOST_SQLITE_PATH sets the sqlite path', env: { GRIDHOST_SQLITE_PATH: 'x.db' }, get: (c) => c.store, want: (cwd) => ({ kind: 'sqlite', path: path.join(cwd, 'x.db') }) },
  {
    rule: 'GRIDHOST_MONGODB_URI switches the store to mongodb',
    env: { GRIDHOST_MONGODB_URI: 'mongodb://u:p@127.0.0.1:27017/gh' },
    get: (c) => c.store,
    want: () => ({ kind: 'mongodb', uri: 'mongodb://u:p@127.0.0.1:27017/gh' }),
  },
  { rule: 'GRIDHOST_HARD_MAX sets limits.hardMax', env: { GRIDHOST_HARD_MAX: '12' }, get: (c) => c.limits.hardMax, want: () => 12 },
  { rule: 'GRIDHOST_LEASE sets cluster.leaseMs', env: { GRIDHOST_LEASE: '5s' }, get: (c) => c.cluster.leaseMs, want: () => 5000 },
  { rule: 'GRIDHOST_LOG_LEVEL sets log.level', env: { GRIDHOST_LOG_LEVEL: 'debug' }, get: (c) => c.log.level, want: () => 'debug' },
  { rule: 'GRIDHOST_LOG_FORMAT sets log.format', env: { GRIDHOST_LOG_FORMAT: 'json' }, get: (c) => c.log.format, want: () => 'json' },
  { rule: 'an empty variable counts as unset', env: { GRIDHOST_LOG_LEVEL: '' }, get: (c) => c.log.level, want: () => 'warn' },
];

for (const c of envCases) {
  test(`env: ${c.rule}`, (t) => {
    // The file sets different values so the test shows env wins over the file.
    const cwd = tempCwd(t, {
      'gridhost.yaml': 'api:\n  listen: 127.0.0.1:1111\n  token: from-file\nguests_dir: g\nstore:\n  path: f.db\nlimits:\n  hard_max: 3\nlog:\n  level: warn\n  format: pretty\n',
    });
    t.deepEqual(c.get(loadConfig({ env: c.env, cwd })), c.want(cwd));
  });
}

const badEnv: { name: string; value: string; line: string }[] = [
  { name: 'GRIDHOST_HARD_MAX', value: 'eight', line: '$GRIDHOST_HARD_MAX:1:1: limits.hard_max: must be an integer from 1 to 1000 (found "eight")' },
  { name: 'GRIDHOST_LEASE', value: '500ms', line: '$GRIDHOST_LEASE:1:1: cluster.lease: must be a duration of at least 1s, e.g. 15s (found "500ms")' },
  { name: 'GRIDHOST_HARD_MAX', value: '0', line: '$GRIDHOST_HARD_MAX:1:1: limits.hard_max: must be an integer from 1 to 1000 (found "0")' },
  { name: 'GRIDHOST_LOG_LEVEL', value: 'loud', line: '$GRIDHOST_LOG_LEVEL:1:1: log.level: must be one of error | warn | info | debug (found "loud")' },
  { name: 'GRIDHOST_LOG_FORMAT', value: 'xml', line: '$GRIDHOST_LOG_FORMAT:1:1: log.format: must be one of auto | json | pretty (found "xml")' },
  { name: 'GRIDHOST_API_LISTEN', value: '8700', line: '$GRIDHOST_API_LISTEN:1:1: api.listen: must be host:port, e.g. 127.0.0.1:8080 (found "8700")' },
  { name: 'GRIDHOST_MONGODB_URI', value: 'http://u:pw@h', line: '$GRIDHOST_MONGODB_URI:1:1: store.uri: must be a mongodb:// or mongodb+srv:// URI' },
  { name: 'GRIDHOST_API_TOKEN', value: 'has space', line: '$GRIDHOST_API_TOKEN:1:1: api.token: must be printable characters without spaces' },
  { name: 'GRIDHOST_PROMETHEUS_URL', value: 'ftp://u:pw@h', line: '$GRIDHOST_PROMETHEUS_URL:1:1: prometheus.url: must be an http:// or https:// URL of the Prometheus server, e.g. http://127.0.0.1:9090' },
];
for (const c of badEnv) {
  test(`env: invalid ${c.name}=${JSON.stringify(c.value)} is reported against the variable`, (t) => {
    const cwd = tempCwd(t);
    const e = configError(t, () => loadConfig({ env: { [c.name]: c.value }, cwd }));
    t.is(e.code, 'GH_CONFIG_INVALID');
    t.is(e.message, c.line);
  });
}

const badFile: { rule: string; text: string; line: string }[] = [
  { rule: 'unknown keys are rejected at the key', text: 'api:\n  port: 80\n', line: ':2:3: api.port: unknown key; allowed here: listen, token (found "port")' },
  { rule: 'hard_max must be an integer >= 1', text: 'limits:\n  hard_max: 0\n', line: ':2:13: limits.hard_max: must be >= 1 (found 0)' },
  { rule: 'history_retention is a duration', text: 'limits:\n  history_retention: 30\n', line: ':2:22: limits.history_retention: a duration needs a unit; units are ms, s, m, h, d (e.g. 500ms, 5s, 2m, 1h30m, 1d) (found 30)' },
  { rule: 'history_retention is positive', text: 'limits:\n  history_retention: 0s\n', line: ':2:22: limits.history_retention: must be longer than 0 (found "0s")' },
  { rule: 'history_retention is at least 1h', text: 'limits:\n  history_retention: 59m\n', line: ':2:22: limits.history_retention: must be at least 1h (scale events are updated when their action ends) (found "59m")' },
  { rule: 'cluster.lease is at least 1s', text: 'cluster:\n  lease: 500ms\n', line: ':2:10: cluster.lease: must be at least 1s (the lease is renewed every third of it) (found "500ms")' },
  { rule: 'cluster.reconcile_interval is a duration', text: 'cluster:\n  reconcile_interval: 5\n', line: ':2:23: cluster.reconcile_interval: a duration needs a unit; units are ms, s, m, h, d (e.g. 500ms, 5s, 2m, 1h30m, 1d) (found 5)' },
  { rule: 'sample_retention is a duration', text: 'limits:\n  sample_retention: 7\n', line: ':2:21: limits.sample_retention: a duration needs a unit; units are ms, s, m, h, d (e.g. 500ms, 5s, 2m, 1h30m, 1d) (found 7)' },
  { rule: 'api.listen is host:port', text: 'api:\n  listen: localhost\n', line: ':2:11: api.listen: must be host:port, e.g. 127.0.0.1:8080 (found "localhost")' },
  { rule: 'store kind is sqlite or mongodb', text: 'store:\n  kind: redis\n', line: ':2:9: store.kind: must be one of sqlite | mongodb (found "redis")' },
  { rule: 'a mongodb store needs a uri', text: 'store:\n  kind: mongodb\n', line: ':1:1: store.uri: is required for kind: mongodb (mongodb://user:password@host/db)' },
  { rule: 'a dom0 needs a host key fingerprint', text: 'dom0s:\n  - name: a\n    address: 10.0.0.1\n', line: ':2:5: dom0s.0.host_key_fingerprint: is required' },
  {
    rule: 'a dom0 fingerprint must be SHA256:<base64>',
    text: 'dom0s:\n  - name: a\n    address: 10.0.0.1\n    host_key_fingerprint: MD5:aa:bb\n',
    line: ':4:27: dom0s.0.host_key_fingerprint: must be SHA256:<43 base64 characters>, as printed by `ssh-keygen -lf <host key>` (found "MD5:aa:bb")',
  },
  { rule: 'dom0 port is 1..65535', text: `dom0s:\n  - name: a\n    address: h\n    port: 70000\n    host_key_fingerprint: ${FP}\n`, line: ':4:11: dom0s.0.port: must be <= 65535 (found 70000)' },
  {
    rule: 'dom0 names are unique',
    text: `dom0s:\n  - {name: a, address: h1, host_key_fingerprint: ${FP}}\n  - {name: a, address: h2, host_key_fingerprint: ${FP}}\n`,
    line: ':3:12: dom0s.1.name: duplicate dom0 name; dom0s.0 already uses it (found "a")',
  },
  {
    rule: 'dom0 guest_network is ssh or routed',
    text: `dom0s:\n  - {name: a, address: h, host_key_fingerprint: ${FP}, guest_network: vpn}\n`,
    line: ':2:116: dom0s.0.guest_network: must be one of ssh | routed (found "vpn")',
  },
  { rule: 'prometheus needs a url', text: 'prometheus:\n  timeout: 2s\n', line: ':1:1: prometheus.url: is required when prometheus is set (http://127.0.0.1:9090)' },
  { rule: 'prometheus.url is a base URL without a query', text: 'prometheus:\n  url: http://h:9090/?x=1\n', line: ':2:8: prometheus.url: must be the server\'s base URL, without ?query or #fragment' },
  { rule: 'prometheus.timeout is at most 60s', text: 'prometheus:\n  url: http://h:9090\n  timeout: 2m\n', line: ':3:12: prometheus.timeout: must be at most 60s (a query is asked every sampling interval) (found "2m")' },
  { rule: 'dom0 address may not carry shell characters', text: `dom0s:\n  - {name: a, address: "h;id", host_key_fingerprint: ${FP}}\n`, line: ':2:24: dom0s.0.address: must be a host name or IP address (found "h;id")' },
];
for (const c of badFile) {
  test(`file: ${c.rule}`, (t) => {
    const cwd = tempCwd(t, { 'gridhost.yaml': c.text });
    const e = configError(t, () => loadConfig({ env: {}, cwd }));
    t.is(e.code, 'GH_CONFIG_INVALID');
    t.is(e.message, path.join(cwd, 'gridhost.yaml') + c.line);
  });
}

test('secrets in invalid values never appear in issues', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': 'api:\n  token: "two words-SECRET"\nstore:\n  kind: mongodb\n  uri: "postgres://u:SECRETPW@h"\n' });
  const e = configError(t, () => loadConfig({ env: {}, cwd }));
  t.is(e.issues.length, 2);
  t.false(e.message.includes('SECRET'));
  t.false(JSON.stringify(e.toJSON()).includes('SECRET'));
  t.deepEqual(
    e.issues.map((i) => `${i.line}:${i.col} ${i.path}`),
    ['2:10 api.token', '5:8 store.uri'],
  );
});

test('a YAML syntax error on a secret\'s line points at it without repeating it (found by test/config/config-fuzz.test.ts)', (t) => {
  const cases: [string, string][] = [
    ['  listen: 127.0.0.1:8700\ntoken: SECRET-0123456789abc\n', '2:8'], // "api:" deleted: "Unexpected scalar token in YAML stream: ..."
    ['api:\n  token: >SECRET-0123456789abc\n', '2:11'], // "Block scalar header includes extra characters: ..."
    ['api:\n  token: !SECRET-0123456789abc x\n', '2:10'], // a warning, refused too: "Unresolved tag: ..."
  ];
  for (const [text, at] of cases) {
    const e = configError(t, () => loadConfig({ env: {}, cwd: tempCwd(t, { 'gridhost.yaml': text }) }));
    t.false(e.message.includes('SECRET'), e.message);
    t.true(e.issues.some((i) => `${i.line}:${i.col}` === at && /^YAML (syntax error|problem): /.test(i.message)), e.message);
  }
});

test('all config issues are reported at once, file and env together', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': 'limits:\n  hard_max: -1\nlog:\n  level: chatty\n' });
  const e = configError(t, () => loadConfig({ env: { GRIDHOST_LOG_FORMAT: 'xml' }, cwd }));
  t.deepEqual(
    e.issues.map(formatIssue).map((l) => l.split(': ')[1]),
    ['limits.hard_max', 'log.level', 'log.format'],
  );
});

test('the config is deeply frozen', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': `dom0s:\n  - {name: a, address: h, host_key_fingerprint: ${FP}}\n` });
  const c = loadConfig({ env: {}, cwd });
  for (const part of [c, c.api, c.store, c.limits, c.log, c.drivers, c.drivers.xen, c.drivers.xen?.dom0s, c.drivers.xen?.dom0s[0]]) t.true(Object.isFrozen(part));
  t.throws(() => {
    (c.limits as { hardMax: number }).hardMax = 100;
  }, { instanceOf: TypeError });
});

test('redactConfig hides the token and the URI password, leaving the original intact', (t) => {
  const cwd = tempCwd(t);
  const c = loadConfig({ env: { GRIDHOST_API_TOKEN: 'tok-123', GRIDHOST_MONGODB_URI: 'mongodb://admin:pa55@db1:27017,db2:27017/gh?replicaSet=rs0' }, cwd });
  const r = redactConfig(c);
  t.is(r.api.token, '***');
  t.deepEqual(r.store, { kind: 'mongodb', uri: 'mongodb://admin:***@db1:27017,db2:27017/gh?replicaSet=rs0' });
  t.false(JSON.stringify(r).includes('pa55'));
  t.false(JSON.stringify(r).includes('tok-123'));
  t.is(c.api.token, 'tok-123');
  t.deepEqual(redactConfig(loadConfig({ env: {}, cwd })), defaultsFor(cwd, '<defaults>'));
});

test('dom0 guest_network is kept when given (routed or ssh) and absent otherwise (ssh is the default)', (t) => {
  const cwd = tempCwd(t, {
    'gridhost.yaml': `dom0s:\n  - {name: a, address: h, host_key_fingerprint: ${FP}, guest_network: routed}\n  - {name: b, address: h, host_key_fingerprint: ${FP}, guest_network: ssh}\n  - {name: c, address: h, host_key_fingerprint: ${FP}}\n`,
  });
  const c = loadConfig({ env: {}, cwd });
  t.deepEqual(c.drivers.xen?.dom0s.map((d) => d.guestNetwork), ['routed', 'ssh', undefined]);
});

test("a dom0's network and the xen section are read with their defaults", (t) => {
  const cwd = tempCwd(t, {
    'gridhost.yaml': [
      'xen:',
      '  xl_path: /usr/sbin/xl',
      '  memory_mb: 256',
      'dom0s:',
      `  - name: a`,
      `    address: h`,
      `    host_key_fingerprint: ${FP}`,
      '    guest_network: routed',
      '    network: {bridge: br0, addresses: 10.1.0.0/24, gateway: 10.1.0.1, port: 8080}',
      `  - {name: b, address: h, host_key_fingerprint: ${FP}, guest_network: routed, network: {addresses: 10.2.0.10-10.2.0.20}}`,
      `  - {name: c, address: h, host_key_fingerprint: ${FP}}`,
      '',
    ].join('\n'),
  });
  const c = loadConfig({ env: {}, cwd });
  const { dom0s, ...xen } = c.drivers.xen!;
  t.deepEqual(xen, { xlPath: '/usr/sbin/xl', cfgDir: '/etc/xen/gridhost', memoryMb: 256 });
  t.deepEqual(dom0s[0]?.network, { bridge: 'br0', first: 0x0a010001, last: 0x0a0100fe, prefixLength: 24, gateway: '10.1.0.1', port: 8080 });
  t.deepEqual(dom0s[1]?.network, { bridge: 'xenbr0', first: 0x0a02000a, last: 0x0a020014, prefixLength: 24, port: 80 });
  t.is(dom0s[2]?.network, undefined);
});

test('a bad dom0 network or xen section is GH_CONFIG_INVALID at the key, naming what to write', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['network: {addresses: 10.1.0.9-10.1.0.1}', /dom0s\.0\.network\.addresses: its first address is after its last/],
    ['network: {addresses: 10.1.0.300-10.1.0.301}', /dom0s\.0\.network\.addresses: must be two IPv4 addresses/],
    ['network: {addresses: 10.1.0.0/4}', /dom0s\.0\.network\.addresses: must be A\.B\.C\.D\/P with P from 8 to 30/],
    ['network: {addresses: 10.1.0.10-10.1.1.10}', /dom0s\.0\.network\.addresses: the addresses 10\.1\.0\.10-10\.1\.1\.10 are not in one \/24 subnet/],
    ['network: {addresses: 10.1.0.10-10.1.0.20, gateway: 10.9.0.1}', /dom0s\.0\.network\.gateway: gateway 10\.9\.0\.1 is outside the guests' subnet/],
    ['network: {addresses: 10.1.0.0/24, prefix_length: 16}', /dom0s\.0\.network\.prefix_length: differs from the \/24 of addresses/],
    ['network: {bridge: "br0; reboot"}', /dom0s\.0\.network\.bridge: must be a Linux interface name/],
    ['network: {port: 0}', /dom0s\.0\.network\.port/],
    ['network: {mtu: 9000}', /dom0s\.0\.network\.mtu: unknown key/],
  ];
  for (const [line, re] of cases) {
    const cwd = tempCwd(t, { 'gridhost.yaml': `dom0s:\n  - name: a\n    address: h\n    host_key_fingerprint: ${FP}\n    ${line}\n` });
    const e = configError(t, () => loadConfig({ env: {}, cwd }));
    t.regex(e.issues.map(formatIssue).join('\n'), re, line);
    t.true(e.issues.every((i) => i.line === 5), line);
  }
  for (const [yaml, re] of [
    ['xen:\n  xl_path: "xl; rm -rf /"\n', /xen\.xl_path: must be an absolute path/],
    ['xen:\n  cfg_dir: /etc/../tmp\n', /xen\.cfg_dir: must be an absolute path/],
    ['xen:\n  memory_mb: 4\n', /xen\.memory_mb/],
    ['xen:\n  xl_pth: /usr/sbin/xl\n', /xen\.xl_pth: unknown key; did you mean xl_path/],
  ] as const) {
    const e = configError(t, () => loadConfig({ env: {}, cwd: tempCwd(t, { 'gridhost.yaml': yaml }) }));
    t.regex(e.issues.map(formatIssue).join('\n'), re, yaml);
  }
});

test('two routed dom0s may not hand out the same guest addresses (guests are told apart by address)', (t) => {
  const dom0 = (name: string, net: string, range: string): string => `  - {name: ${name}, address: h, host_key_fingerprint: ${FP}, guest_network: ${net}, network: {addresses: ${range}}}\n`;
  const clash = tempCwd(t, { 'gridhost.yaml': `dom0s:\n${dom0('a', 'routed', '10.1.0.10-10.1.0.20')}${dom0('b', 'routed', '10.1.0.20-10.1.0.30')}` });
  const e = configError(t, () => loadConfig({ env: {}, cwd: clash }));
  t.regex(e.issues.map(formatIssue).join('\n'), /dom0s\.1\.network: its guest addresses overlap dom0 a's/);
  // Over SSH each dom0's guests are reached through it: the same range on two dom0s is fine.
  const ssh = tempCwd(t, { 'gridhost.yaml': `dom0s:\n${dom0('a', 'ssh', '10.1.0.10-10.1.0.20')}${dom0('b', 'ssh', '10.1.0.10-10.1.0.20')}` });
  t.is(loadConfig({ env: {}, cwd: ssh }).drivers.xen?.dom0s.length, 2);
});

test('a config file over the size limit is refused unread, with its size and the limit', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': `# ${'x'.repeat(CONFIG_MAX_BYTES)}\n` });
  const e = configError(t, () => loadConfig({ env: {}, cwd }));
  t.is(e.message, `${path.join(cwd, 'gridhost.yaml')}:1:1: config file is ${CONFIG_MAX_BYTES / 1024 + 1} KiB; the limit is ${CONFIG_MAX_BYTES / 1024} KiB`);
});

test('checkConfigFile checks one file by itself, ignoring the environment', (t) => {
  const cwd = tempCwd(t, { 'staging.yaml': 'log:\n  level: loud\n', 'ok.yaml': 'log:\n  level: debug\n' });
  t.deepEqual(checkConfigFile(path.join(cwd, 'staging.yaml')).map(formatIssue), [`${path.join(cwd, 'staging.yaml')}:2:10: log.level: must be one of error | warn | info | debug (found "loud")`]);
  t.deepEqual(checkConfigFile(path.join(cwd, 'ok.yaml')), []);
  t.deepEqual(checkConfigFile(path.join(cwd, 'none.yaml')).map(formatIssue), [`${path.join(cwd, 'none.yaml')}:1:1: cannot read config file (ENOENT)`]);
});

test('prometheus: url and timeout from the file (timeout defaults to 5s), the env variable wins; absent by default; the password is redacted', (t) => {
  const cwd = tempCwd(t, { 'gridhost.yaml': 'prometheus:\n  url: http://gh:pw1@10.0.0.9:9090/prom\n  timeout: 2s\n' });
  t.deepEqual(loadConfig({ env: {}, cwd }).prometheus, { url: 'http://gh:pw1@10.0.0.9:9090/prom', timeoutMs: 2000 });
  t.deepEqual(loadConfig({ env: { GRIDHOST_PROMETHEUS_URL: 'https://p.example:443' }, cwd }).prometheus, { url: 'https://p.example:443', timeoutMs: 2000 });
  t.deepEqual(loadConfig({ env: { GRIDHOST_PROMETHEUS_URL: 'http://127.0.0.1:9090' }, cwd: tempCwd(t) }).prometheus, { url: 'http://127.0.0.1:9090', timeoutMs: 5000 });
  t.is(loadConfig({ env: {}, cwd: tempCwd(t) }).prometheus, undefined);
  t.is(redactConfig(loadConfig({ env: {}, cwd })).prometheus!.url, 'http://gh:***@10.0.0.9:9090/prom');
});
