import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { assertSafeName, assertSafePath, shellCommand, shq } from '../../../src/drivers/ssh/shell-quote.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

const run = promisify(execFile);

const HOSTILE = [
  '',
  ' ',
  'plain',
  "it's",
  "''",
  "'",
  '"double"',
  '$(touch /tmp/gridhost-pwned)',
  '`id`',
  '${HOME}',
  '$HOME',
  'a;b',
  'a && b || c',
  'a|b',
  'line1\nline2',
  '\n',
  '\r\n\t',
  'with  two  spaces',
  '*',
  '/etc/*',
  '?[a-z]',
  '~',
  '~root',
  'NAME=value',
  '-n',
  '--',
  '\\',
  '\\\\\'\\',
  '#comment',
  '!bang',
  '{a,b}',
  '<in >out 2>&1',
  '%s%d',
  'ünïcödé ✓ 漢字 🚀',
  '\u00a0nbsp',
  '\x1b[31mred',
  "'; rm -rf / #",
  'x\'"$`\\!*?[]{}()<>|&;#~= \t\n',
];

// Deterministic pseudo-random strings over the characters that matter to sh.
function* generated(count: number, seed: number): Generator<string> {
  const alphabet = ['a', ' ', "'", '"', '$', '`', '\\', '\n', '\t', ';', '&', '|', '*', '?', '(', ')', '{', '}', '<', '>', '#', '~', '=', '!', 'é', '🚀'];
  let x = seed;
  for (let i = 0; i < count; i++) {
    let s = '';
    const len = i % 17;
    for (let j = 0; j < len; j++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      s += alphabet[x % alphabet.length];
    }
    yield s;
  }
}

const CASES = [...HOSTILE, ...generated(80, 42)];
const SHELLS = ['/bin/sh', '/bin/dash', '/bin/bash', '/bin/busybox'].filter((p) => existsSync(p));

for (const shell of SHELLS) {
  test(`${shell} reads every shq()-quoted hostile string back byte for byte`, async (t) => {
    for (const s of CASES) {
      const argv = shell.endsWith('busybox') ? ['sh', '-c', `printf %s ${shq(s)}`] : ['-c', `printf %s ${shq(s)}`];
      const { stdout } = await run(shell, argv, { encoding: 'buffer' });
      t.true(Buffer.from(s, 'utf8').equals(stdout), `round trip of ${JSON.stringify(s)} through ${shell}`);
    }
  });
}

test('shellCommand() keeps word boundaries: each hostile string arrives as exactly one argument', async (t) => {
  // printf repeats its format per argument, so the NUL-separated output lists the argv sh saw.
  const { stdout } = await run('/bin/sh', ['-c', shellCommand(['printf', '%s\\0', ...CASES])], { encoding: 'buffer' });
  const seen = stdout.toString('utf8').split('\0');
  seen.pop();
  t.deepEqual(seen, CASES);
});

test('quoting a command substitution stops it from running', async (t) => {
  const marker = `/tmp/gridhost-shq-${process.pid}`;
  await run('/bin/sh', ['-c', shellCommand(['printf', '%s', `$(touch ${marker})`, `\`touch ${marker}\``])]);
  t.false(existsSync(marker));
});

test('shq() rejects a NUL byte with GH_UNSAFE_ARGUMENT', (t) => {
  const e = t.throws(() => shq('a\0b'), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_UNSAFE_ARGUMENT');
});

test('shellCommand() rejects an empty argv', (t) => {
  t.is(t.throws(() => shellCommand([]), { instanceOf: GridhostError })?.code, 'GH_UNSAFE_ARGUMENT');
});

test('shq() leaves plain words alone and quotes words with = so they are never read as assignments', (t) => {
  t.is(shq('/usr/lib/xen-4.17/bin/xl'), '/usr/lib/xen-4.17/bin/xl');
  t.is(shq('NAME=value'), "'NAME=value'");
  t.is(shq(''), "''");
});

const NAMES: Array<[string, boolean]> = [
  ['web-a1b2c3', true],
  ['web_1.img', true],
  ['A', true],
  ['a'.repeat(64), true],
  ['a'.repeat(65), false],
  ['', false],
  ['-rf', false],
  ['.hidden', false],
  ['a..b', false],
  ['a b', false],
  ['a/b', false],
  ["a'b", false],
  ['a$b', false],
  ['a\nb', false],
  ['ünï', false],
];
for (const [name, ok] of NAMES) {
  test(`assertSafeName ${ok ? 'accepts' : 'rejects'} ${JSON.stringify(name)}`, (t) => {
    if (ok) t.is(assertSafeName(name), name);
    else t.is(t.throws(() => assertSafeName(name), { instanceOf: GridhostError })?.code, 'GH_UNSAFE_ARGUMENT');
  });
}

const PATHS: Array<[string, boolean]> = [
  ['/var/lib/xen/images/web-1.img', true],
  ['/etc/xen/guests/with space.cfg', true],
  ['/', true],
  ['relative/path', false],
  ['', false],
  ['/var/../etc/shadow', false],
  ['/var/lib/x\ny', false],
  ['/var/lib/x\ty', false],
  ['/var/lib/x\u007fy', false],
  ['/var/lib/x\0y', false],
];
for (const [p, ok] of PATHS) {
  test(`assertSafePath ${ok ? 'accepts' : 'rejects'} ${JSON.stringify(p)}`, (t) => {
    if (ok) t.is(assertSafePath(p), p);
    else t.is(t.throws(() => assertSafePath(p), { instanceOf: GridhostError })?.code, 'GH_UNSAFE_ARGUMENT');
  });
}
