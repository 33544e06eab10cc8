// Seeded mutations of YAML files for the fuzz tests of the policy parser and the config loader
// (test/policy/policy-fuzz.test.ts, test/config/config-fuzz.test.ts), and the one judgement of
// the issues either returns: each names the file, a line inside it, a column, a field path and
// a readable message, and quotes no long value whole.
import { FOUND_MAX_CHARS, type ValidationIssue } from '../../src/errors/errors.ts';

/** GRIDHOST_FUZZ_SEED and GRIDHOST_FUZZ_CASES run other or more cases. */
export const FUZZ_SEED = Number(process.env.GRIDHOST_FUZZ_SEED ?? 20261202);
export function fuzzCases(dflt: number): number {
  return Number(process.env.GRIDHOST_FUZZ_CASES ?? dflt);
}

const VALUES = ['', '-1', '0', '1', '9', '65536', '1e309', '.nan', '-.inf', '~', 'null', '[]', '{}', '[1, 2]', '{a: 1}', '"x"', "'y'",
  'yes', 'off', '2m', '-5s', '0s', '1h', '10000d', '+1', '-3', '50%', '+200%', '!!binary AAAA', '&anchor x', '*anchor', '*nope', '|', '>-',
  'x'.repeat(300), '../../etc/passwd', 'a;rm -rf /', '$(id)', '`id`', '\u00e9\u4e2d\u{1f600}', '"\\u0000"', '0x10', '0o7', '1_000', '12:30'];
/** The one long value VALUES holds, 41 characters of it: a message holding that copied more than a quote. */
export const LONG_RUN = /x{41}/;
const JUNK = [':', '-', '#', '"', "'", '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`', '\t', ' ', '\n', '\u0000', '\ufeff', '\r'];

export function mutateYaml(text: string, rnd: () => number, newKeys: readonly string[]): string {
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
      lines.splice(i, 0, `${rnd() < 0.5 ? '' : '  '}${pick(newKeys)}: ${pick(VALUES)}`);
  }
  return lines.join('\n');
}

/** What is wrong with the issues returned for `text` read as `file`, or undefined. */
export function judgeIssues(issues: readonly ValidationIssue[], text: string, file: string): string | undefined {
  if (issues.length === 0) return 'refused with no issue';
  const lineCount = text.split('\n').length;
  for (const i of issues) {
    if (i.file !== file) return `issue names file ${JSON.stringify(i.file)}`;
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
