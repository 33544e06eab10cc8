// Fuzzing the policy parser: thousands of mutated copies of real policies (the shipped example,
// and the same with every opt-in block switched on). Whatever a service owner's editor leaves
// behind, the parser must answer with a policy or with issues that name a line of the file,
// a column and a readable message: never a throw, never a position outside the file, never a
// message built from `undefined` or an object. Deterministic (seeded); GRIDHOST_FUZZ_SEED and
// GRIDHOST_FUZZ_CASES run other or more cases.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_HARD_MAX, tryParsePolicy, type PolicyOptions } from '../../src/policy/parse-policy.ts';
import { FUZZ_SEED as SEED, fuzzCases, judgeIssues, mutateYaml } from '../fuzz/yaml-mutations.ts';
import { mulberry32 as prng } from '../../src/simulator/synthetic.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = fs.readFileSync(path.join(REPO, 'policies/web.yaml'), 'utf8');
const OPTS: PolicyOptions = { templatesDir: path.join(REPO, 'templates'), exists: () => true, prometheus: true };
const FILE = 'fuzz.yaml';
const CASES = fuzzCases(2500);
/** Keys a mutation may add, at the top or nested. */
const NEW_KEYS = ['min', 'max', 'pool', 'rules', 'guest', 'warm_pool', 'size', 'target', 'metric', 'step', 'x'];

/** The example with its commented-out opt-ins written in (the keys a service owner adds first). */
const FULL = `${EXAMPLE.replace(/^schedules: \[\]$/m, `schedules:
  - name: campaign
    cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
    duration: 9h
    min: 4`)}
flap_budget: { changes: 6, window: 10m }
warm_pool: { size: 1 }
contention: { saturated_at: 0.9 }
hooks:
  before_register:
    command: ["node", "hooks/warm-up.mjs", "{{address}}", "/", "/"]
    timeout: 30s
    on_failure: abandon
  before_retire:
    http:
      url: http://127.0.0.1:9100/api/hosts/{{guest}}/disable
      method: POST
    timeout: 10s
    on_failure: continue
`;

/** What is wrong with one answer of the parser ('refused' and 'accepted' are good answers). */
function judge(text: string): string {
  let r: ReturnType<typeof tryParsePolicy>;
  try {
    r = tryParsePolicy(text, FILE, OPTS);
  } catch (e) {
    return `threw ${(e as Error)?.stack ?? String(e)}`;
  }
  if (r.ok) {
    const p = r.policy;
    if (!(p.min >= 0 && p.min <= p.max && p.max <= DEFAULT_HARD_MAX)) return `accepted bounds min ${p.min} max ${p.max}`;
    if (!Object.isFrozen(p)) return 'accepted policy is not frozen';
    return 'accepted';
  }
  return judgeIssues(r.issues, text, FILE) ?? 'refused';
}

test('the fuzz seeds are valid policies (the example and the example with every opt-in)', (t) => {
  for (const seed of [EXAMPLE, FULL]) {
    const r = tryParsePolicy(seed, FILE, OPTS);
    t.true(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  }
});

test(`a mutated policy is accepted or refused with issues naming a line, column and field, never a throw (${CASES} cases, seed ${SEED})`, (t) => {
  const rnd = prng(SEED);
  const failures: string[] = [];
  let refused = 0;
  for (let n = 0; n < CASES; n++) {
    let text = rnd() < 0.5 ? EXAMPLE : FULL;
    const steps = 1 + Math.floor(rnd() * 3);
    for (let s = 0; s < steps; s++) text = mutateYaml(text, rnd, NEW_KEYS);
    const answer = judge(text);
    if (answer === 'refused') refused++;
    else if (answer !== 'accepted') failures.push(`case ${n}: ${answer}\n--- text (first 400 chars) ---\n${text.slice(0, 400)}`);
  }
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${CASES} cases answered badly`);
  // The mutations must actually break policies, or this test checks nothing.
  t.true(refused > CASES / 4, `only ${refused} of ${CASES} mutated policies were refused`);
});
