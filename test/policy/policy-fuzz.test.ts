// Fuzzing the policy parser: thousands of mutated copies of real policies (the shipped example,
// and the same with every opt-in block switched on). Whatever a service owner's editor leaves
// behind, the parser must answer with a policy or with issues that name a line of the file,
// a column and a readable message: never a throw, never a position outside the file, never a
// message built from `undefined` or an object. Deterministic (seeded); GRIDHOST_FUZZ_SEED and
// GRIDHOST_FUZZ_CASES run other or more cases.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { FOUND_MAX_CHARS } from '../../src/errors/errors.ts';
import { DEFAULT_HARD_MAX, tryParsePolicy, type PolicyOptions } from '../../src/policy/parse-policy.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = fs.readFileSync(path.join(REPO, 'policies/web.yaml'), 'utf8');
const OPTS: PolicyOptions = { templatesDir: path.join(REPO, 'templates'), exists: () => true, prometheus: true };
const FILE = 'fuzz.yaml';
const SEED = Number(process.env.GRIDHOST_FUZZ_SEED ?? 20261202);
const CASES = Number(process.env.GRIDHOST_FUZZ_CASES ?? 2500);

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

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES = ['', '-1', '0', '1', '9', '65536', '1e309', '.nan', '-.inf', '~', 'null', '[]', '{}', '[1, 2]', '{a: 1}', '"x"', "'y'",
  'yes', 'off', '2m', '-5s', '0s', '1h', '10000d', '+1', '-3', '50%', '+200%', '!!binary AAAA', '&anchor x', '*anchor', '*nope', '|', '>-',
  'x'.repeat(300), '../../etc/passwd', 'a;rm -rf /', '$(id)', '`id`', '\u00e9\u4e2d\u{1f600}', '"\\u0000"', '0x10', '0o7', '1_000', '12:30'];
/** The one long value VALUES holds, 41 characters of it: a message holding that copied more than a quote. */
const LONG_RUN = /x{41}/;
const JUNK = [':', '-', '#', '"', "'", '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`', '\t', ' ', '\n', '\u0000', '\ufeff', '\r'];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const lines = text.split('\n');
  const i = Math.floor(rnd() * lines.length);
  switch (Math.floor(rnd() * 9)) {
    case 0: // delete a line
      lines.splice(i, 1);
      break;
    case 1: // duplicate a line (a repeated key)
      lines.splice(i, 0, lines[i]!);
      break;
    case 2: { // swap two lines
      const j = Math.floor(rnd() * lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      break;
    }
    case 3: // indent or dedent
      lines[i] = rnd() < 0.5 ? `  ${lines[i]}` : lines[i]!.replace(/^ {1,2}/, '');
      break;
    case 4: { // replace a value
      const m = /^(\s*(?:- )?[A-Za-z_]+:)\s*(.*)$/.exec(lines[i]!);
      lines[i] = m ? `${m[1]} ${pick(VALUES)}` : `${lines[i]} ${pick(VALUES)}`;
      break;
    }
    case 5: { // misspell or swap a key
      const m = /^(\s*(?:- )?)([A-Za-z_]+)(:.*)$/.exec(lines[i]!);
      if (m) {
        const k = m[2]!;
        const at = Math.floor(rnd() * k.length);
        lines[i] = `${m[1]}${rnd() < 0.5 ? k.slice(0, at) + k.slice(at + 1) : k.slice(0, at) + pick(['_', 'x', 's', 'A']) + k.slice(at)}${m[3]}`;
      }
      break;
    }
    case 6: { // a stray character
      const l = lines[i]!;
      const at = Math.floor(rnd() * (l.length + 1));
      lines[i] = l.slice(0, at) + pick(JUNK) + l.slice(at);
      break;
    }
    case 7: // truncate the file
      return text.slice(0, Math.floor(rnd() * text.length));
    default: // a new top-level or nested key with a random value
      lines.splice(i, 0, `${rnd() < 0.5 ? '' : '  '}${pick(['min', 'max', 'pool', 'rules', 'guest', 'warm_pool', 'size', 'target', 'metric', 'step', 'x'])}: ${pick(VALUES)}`);
  }
  return lines.join('\n');
}

/** What is wrong with one answer of the parser, or undefined when it is a good answer. */
function judge(text: string): string | undefined {
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
    return undefined;
  }
  if (r.issues.length === 0) return 'refused with no issue';
  const lineCount = text.split('\n').length;
  for (const i of r.issues) {
    if (i.file !== FILE) return `issue names file ${JSON.stringify(i.file)}`;
    if (!Number.isInteger(i.line) || i.line < 1 || i.line > lineCount + 1) return `issue at line ${i.line} of a ${lineCount}-line file: ${i.message}`;
    if (!Number.isInteger(i.col) || i.col < 1) return `issue at column ${i.col}: ${i.message}`;
    if (typeof i.path !== 'string') return `issue path ${String(i.path)}`;
    if (typeof i.message !== 'string' || i.message.trim() === '') return 'issue without a message';
    if (/\bundefined\b|\[object Object\]|\bNaN\b/.test(i.message)) return `unreadable message: ${i.message}`;
    // A value is quoted to point at it, never copied whole into logs (errors.ts FOUND_MAX_CHARS).
    if (typeof i.found === 'string' && i.found.length > FOUND_MAX_CHARS && !/^[^]{40}\.\.\. \(\d+ characters\)$/.test(i.found)) return `issue quotes ${i.found.length} characters: ${i.path}`;
    if (LONG_RUN.test(i.message)) return `message copies a long value: ${i.path}: ${i.message.slice(0, 120)}`;
  }
  return undefined;
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
    for (let s = 0; s < steps; s++) text = mutate(text, rnd);
    const bad = judge(text);
    if (bad !== undefined) failures.push(`case ${n}: ${bad}\n--- text (first 400 chars) ---\n${text.slice(0, 400)}`);
    else if (!tryParsePolicy(text, FILE, OPTS).ok) refused++;
  }
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${CASES} cases answered badly`);
  // The mutations must actually break policies, or this test checks nothing.
  t.true(refused > CASES / 4, `only ${refused} of ${CASES} mutated policies were refused`);
});
