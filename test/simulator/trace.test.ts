import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GridhostError } from '../../src/errors/errors.ts';
import { aggregate, parseTrace, readTrace, scaleToPeak } from '../../src/simulator/trace.ts';

const run = promisify(execFile);

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-trace-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const formats: [string, string, number[], number][] = [
  ['one number per line', '3\n4\n5\n', [3, 4, 5], 1],
  ['space-separated on one line', '3 4 5 0', [3, 4, 5, 0], 1],
  ['space-separated over lines with CRLF and blanks', '1 2\r\n\r\n3.5 4\r\n', [1, 2, 3.5, 4], 1],
  ['# comment lines are ignored', '# rps\n1\n2\n', [1, 2], 1],
  ['CSV time,rps without header', '0,10\n5,20\n10,30\n', [10, 20, 30], 5],
  ['CSV time,rps with header', 'time,rps\n0,1\n60,2\n', [1, 2], 60],
  ['CSV with ISO-8601 times', 'time,rps\n2021-08-01T00:00:00Z,7\n2021-08-01T00:00:10Z,8\n', [7, 8], 10],
];
for (const [name, text, values, step] of formats) {
  test(`parses ${name}`, (t) => {
    const tr = parseTrace(text, 'x.txt');
    t.deepEqual(Array.from(tr.values), values);
    t.is(tr.stepSeconds, step);
  });
}

test('a CSV whose time column holds dates says when the trace began; plain seconds and numbers do not', (t) => {
  t.is(parseTrace('time,rps\n2021-08-01T00:00:00Z,7\n2021-08-01T00:00:10Z,8\n').startAt, Date.UTC(2021, 7, 1));
  t.is(parseTrace('0,10\n5,20\n').startAt, undefined);
  t.is(parseTrace('1 2 3').startAt, undefined);
});

const bad: [string, string, RegExp][] = [
  ['an empty file', '', /x\.txt: empty trace/],
  ['a file of blanks and comments', '\n  \n# nothing\n', /empty trace/],
  ['a negative value (names line)', '1\n2\n-3\n', /x\.txt: line 3, value 1 \(offset 4\): negative value -3/],
  ['a non-numeric value on a long line (names value and offset)', '1 2 abc 4', /line 1, value 3 \(offset 4\): "abc" is not a number/],
  ['hex numbers', '0x10', /"0x10" is not a number/],
  ['binary data', 'a\u0000b', /unsupported format: binary/],
  ['CSV with three columns', 'time,rps,extra\n0,1,2\n', /line 1: unsupported format: expected 2 CSV columns/],
  ['CSV with a negative rate', 'time,rps\n0,1\n1,-2\n', /line 3, column 2: negative value -2/],
  ['CSV with a non-numeric rate', '0,1\n1,lots\n', /line 2, column 2: "lots" is not a number/],
  ['CSV whose time goes backwards', '0,1\n5,1\n3,1\n', /line 3: time 3 does not increase/],
  ['CSV unevenly spaced', '0,1\n5,1\n12,1\n', /line 3: time 12 is 7 s after .* 5 s apart/],
  ['commas after a plain first line', '1\n2,3\n', /line 2: unsupported format/],
];
for (const [name, text, re] of bad) {
  test(`rejects ${name} with GH_TRACE_INVALID`, (t) => {
    const e = t.throws(() => parseTrace(text, 'x.txt'), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_TRACE_INVALID');
    t.regex(e?.message ?? '', re);
  });
}

test('reads a .tbz2 archive by spawning tar', async (t) => {
  await withTmp(async (dir) => {
    await writeFile(join(dir, 'workload.txt'), '5 6 7 8');
    const archive = join(dir, 'w.tbz2');
    await run('tar', ['-cjf', archive, '-C', dir, 'workload.txt']);
    const tr = await readTrace(archive);
    t.deepEqual(Array.from(tr.values), [5, 6, 7, 8]);
  });
});

test('a .tbz2 that is not a bzip2 tar is GH_TRACE_INVALID naming the file', async (t) => {
  await withTmp(async (dir) => {
    const f = join(dir, 'not-really.tbz2');
    await writeFile(f, 'plain text');
    const e = await t.throwsAsync(readTrace(f), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_TRACE_INVALID');
    t.true(e?.message.startsWith(f));
  });
});

test('a missing file is GH_TRACE_INVALID "file not found"', async (t) => {
  const e = await t.throwsAsync(readTrace('/nonexistent/trace.txt'), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_TRACE_INVALID');
  t.regex(e?.message ?? '', /file not found/);
});

test('a plain file names the line of its error when read from disk', async (t) => {
  await withTmp(async (dir) => {
    const f = join(dir, 'w.txt');
    await writeFile(f, '1\n2\nfoo\n');
    const e = await t.throwsAsync(readTrace(f));
    t.regex(e?.message ?? '', /w\.txt: line 3, value 1/);
  });
});

test('aggregate mean averages each group and the short last group', (t) => {
  const tr = aggregate({ values: Float64Array.from([1, 3, 5, 7, 9]), stepSeconds: 1 }, 2, 'mean');
  t.deepEqual(Array.from(tr.values), [2, 6, 9]);
  t.is(tr.stepSeconds, 2);
});

test('aggregate max keeps the peak of each group', (t) => {
  const tr = aggregate({ values: Float64Array.from([1, 3, 5, 7, 9]), stepSeconds: 1 }, 2, 'max');
  t.deepEqual(Array.from(tr.values), [3, 7, 9]);
});

test('aggregate refuses a step that is not a whole multiple', (t) => {
  const e = t.throws(() => aggregate({ values: Float64Array.from([1, 2]), stepSeconds: 2 }, 3), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_TRACE_INVALID');
});

test('scaleToPeak makes the peak need exactly targetGuests guests', (t) => {
  const tr = scaleToPeak({ values: Float64Array.from([1, 3, 7, 2]), stepSeconds: 1 }, 40, 8);
  t.is(Math.max(...tr.values), 320);
  t.is(Math.ceil(Math.max(...tr.values) / 40), 8);
  t.is(tr.values[0], 320 / 7);
});

test('scaleToPeak refuses an all-zero trace', (t) => {
  t.throws(() => scaleToPeak({ values: Float64Array.from([0, 0]), stepSeconds: 1 }, 40), { instanceOf: GridhostError });
});

test('aggregate and scaleToPeak keep the start time', (t) => {
  const tr = { values: Float64Array.from([1, 3, 5, 7]), stepSeconds: 1, startAt: Date.UTC(2021, 7, 1) };
  t.is(aggregate(tr, 2).startAt, tr.startAt);
  t.is(aggregate(tr, 1).startAt, tr.startAt);
  t.is(scaleToPeak(tr, 10, 2).startAt, tr.startAt);
});
