// Fuzzing the config loader: mutated copies of the shipped gridhost.yaml and of one that sets
// every section (dom0s, xen, haproxy, prometheus, a MongoDB store). An operator's typo must end
// as GH_CONFIG_INVALID listing issues that name the file, a line in it and the field: never
// another throw, and never the token or the MongoDB password in a message.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GridhostError, PolicyError } from '../../src/errors/errors.ts';
import { checkConfigFile, loadConfig } from '../../src/config/load-config.ts';
import { FUZZ_SEED as SEED, fuzzCases, judgeIssues, mutateYaml } from '../fuzz/yaml-mutations.ts';
import { mulberry32 as prng } from '../../src/simulator/synthetic.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const SHIPPED = fs.readFileSync(path.join(REPO, 'gridhost.yaml'), 'utf8');
const CASES = fuzzCases(1500);
const TOKEN = 'fuzz-token-s3cr3t-0123456789';
const PASSWORD = 'mongo-pa55word-fuzz';
const FULL = `api:
  listen: 127.0.0.1:8701
  token: ${TOKEN}
policies_dir: ./policies
templates_dir: ./templates
data_dir: ./data
store:
  kind: mongodb
  uri: mongodb://gridhost:${PASSWORD}@127.0.0.1:27017/gridhost
limits:
  hard_max: 8
  sample_retention: 7d
  history_retention: 30d
cluster:
  lease: 15s
  reconcile_interval: 5m
log:
  level: info
  format: json
prometheus:
  url: http://127.0.0.1:9090
  timeout: 5s
dom0s:
  - name: dom0-a
    address: 192.0.2.10
    port: 22
    user: root
    private_key_path: ~/.ssh/gridhost_ed25519
    host_key_fingerprint: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
    guest_network: routed
    storage: nfs1
    network:
      bridge: xenbr0
      addresses: 192.168.100.10-192.168.100.250
      prefix_length: 24
      gateway: 192.168.100.1
      port: 80
xen:
  xl_path: /usr/lib/xen-4.17/bin/xl
  cfg_dir: /etc/xen/gridhost
  memory_mb: 128
haproxy:
  socket: /run/haproxy/admin.sock
  timeout: 5s
  reconcile_interval: 2s
  server_prefix: gh-
`;
const NEW_KEYS = ['api', 'store', 'kind', 'uri', 'token', 'listen', 'dom0s', 'address', 'port', 'hard_max', 'lease', 'x'];

function tempFile(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-config-fuzz-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'gridhost.yaml');
}

/** 'accepted', 'refused', or what is wrong with the loader's answer. */
function judge(file: string, text: string): string {
  fs.writeFileSync(file, text);
  let issues;
  try {
    issues = checkConfigFile(file);
  } catch (e) {
    return `checkConfigFile threw ${(e as Error)?.stack ?? String(e)}`;
  }
  const env = { HOME: '/root' };
  try {
    const cfg = loadConfig({ file, env, cwd: path.dirname(file) });
    if (issues.some((i) => i.severity !== 'warning')) return `loadConfig accepted what checkConfigFile refused: ${issues[0]!.message}`;
    if (!Object.isFrozen(cfg)) return 'accepted config is not frozen';
    return 'accepted';
  } catch (e) {
    if (!(e instanceof PolicyError) || (e as GridhostError).code !== 'GH_CONFIG_INVALID') return `loadConfig threw ${(e as Error)?.stack ?? String(e)}`;
    const bad = judgeIssues(e.issues, text, file);
    if (bad !== undefined) return bad;
    for (const secret of [TOKEN, PASSWORD]) if (e.message.includes(secret)) return `message shows a secret: ${e.message.slice(0, 200)}`;
    return 'refused';
  }
}

test('the config fuzz seeds load (the shipped gridhost.yaml and one setting every section)', (t) => {
  const file = tempFile(t);
  for (const seed of [SHIPPED, FULL]) t.is(judge(file, seed), 'accepted');
});

test(`a mutated gridhost.yaml loads or is refused with GH_CONFIG_INVALID naming file, line and field, never a secret (${CASES} cases, seed ${SEED})`, (t) => {
  const file = tempFile(t);
  const rnd = prng(SEED);
  const failures: string[] = [];
  let refused = 0;
  for (let n = 0; n < CASES; n++) {
    let text = rnd() < 0.3 ? SHIPPED : FULL;
    const steps = 1 + Math.floor(rnd() * 3);
    for (let s = 0; s < steps; s++) text = mutateYaml(text, rnd, NEW_KEYS);
    const answer = judge(file, text);
    if (answer === 'refused') refused++;
    else if (answer !== 'accepted') failures.push(`case ${n}: ${answer}\n--- text (first 600 chars) ---\n${text.slice(0, 600)}`);
  }
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${CASES} cases answered badly`);
  t.true(refused > CASES / 4, `only ${refused} of ${CASES} mutated configs were refused`);
});
