// Writes traces/nasa-1995-07-05.csv, the small sample trace the README's simulator examples
// use: one weekday (1995-07-05, the trace's sixth day) of the NASA Kennedy Space Center web
// server log, as 5-second mean request rates. Run from a checkout beside ../shared/traces
// (the development layout) or with the NASA trace's path: `npx tsx scripts/make-sample-trace.ts
// [nasa-1995-rps.tbz2]`. The product never needs ../shared; this documents how the file was made.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { aggregate, readTrace } from '../src/simulator/trace.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const DAY = 4; // 0 = 1995-07-01
const STEP = 5;
const full = await readTrace(process.argv[2] ?? path.join(ROOT, '..', 'shared', 'traces', 'nasa-1995-rps.tbz2'));
const perDay = 86_400 / full.stepSeconds;
const day = aggregate({ values: full.values.slice(DAY * perDay, (DAY + 1) * perDay), stepSeconds: full.stepSeconds }, STEP, 'mean');
const lines = [
  '# NASA Kennedy Space Center WWW server, 1995-07-05 (00:00-24:00 log time): requests per',
  '# second as 5-second means. From the public NASA-HTTP logs (Jul 1995, ita.ee.lbl.gov),',
  '# which "may be freely redistributed"; made by scripts/make-sample-trace.ts. Scale it with --peak-guests.',
  'time,rps',
  ...Array.from(day.values, (v, i) => `${i * STEP},${Number(v.toFixed(2))}`),
];
writeFileSync(path.join(ROOT, 'traces', 'nasa-1995-07-05.csv'), `${lines.join('\n')}\n`);
console.log(`traces/nasa-1995-07-05.csv: ${day.values.length} rows of ${STEP} s`);
