import test from 'ava';
import { bucketSteps, buckets, formatSeconds } from '../../src/simulator/plot-buckets.ts';
import { renderSvg, type PlotInput } from '../../src/simulator/plot.ts';
import { boxOf, inside, intersects, layout, pathPoints, textsOf } from './svg-geometry.ts';

/** Minimal XML well-formedness check: every tag closes in order, one root <svg>. */
function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const roots: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const between = xml.slice(last, m.index);
    if (between.includes('<')) throw new Error(`unparsed markup near offset ${last}: ${between.slice(0, 60)}`);
    last = re.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) roots.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  if (xml.slice(last).includes('<')) throw new Error('unparsed markup at the end');
  if (stack.length) throw new Error(`unclosed: ${stack.join(' > ')}`);
  return roots;
}

function series(n: number) {
  const load: number[] = [];
  const demand: number[] = [];
  const supply: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = 100 + 80 * Math.sin(i / 50);
    load.push(l);
    demand.push(Math.ceil(l / 40));
    supply.push(Math.max(2, Math.ceil(l / 40) - (i % 7 === 0 ? 1 : 0)));
  }
  return { load, demand, supply };
}

/**
 * A well-provisioned run with rare one-step shortfalls, like the NASA trace: supply is one
 * guest above demand except one step in `every`, when it is one below.
 */
function mostlyAhead(n: number, every: number) {
  const load = new Float64Array(n);
  const demand = new Int32Array(n);
  const supply = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    demand[i] = 2 + (Math.floor(i / 997) % 3);
    load[i] = demand[i]! * 50;
    supply[i] = i % every === 0 ? demand[i]! - 1 : demand[i]! + 1;
  }
  return { load, demand, supply };
}

const DAY = 86_400;

test('renderSvg produces well-formed SVG with one root <svg> and the title', async (t) => {
  const svg = await renderSvg({ ...series(300), stepSeconds: 5, title: 'web on nasa' });
  t.deepEqual(checkWellFormed(svg), ['svg']);
  t.true(svg.startsWith('<svg'));
  t.regex(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.regex(svg, /web on nasa/);
});

test('renderSvg draws three line series (load, demand, supply), each a non-empty path', async (t) => {
  const svg = await renderSvg({ ...series(300), stepSeconds: 5, title: 'x' });
  for (const name of ['load-line', 'demand-line', 'supply-line']) t.true(pathPoints(svg, name).length > 10, `${name} has a path of many points`);
});

// Legend layout, on a short run, a long one, and a replay (one more, longer label).
const layouts: [string, PlotInput, string[]][] = [
  ['a short run', { ...series(300), stepSeconds: 5, title: 'x' }, ['load, rps (right axis)', 'demand, guests', 'supply, guests']],
  ['a 58-day run', { ...mostlyAhead(58 * 288, 50), stepSeconds: 300, title: 'x' }, ['load, rps (right axis)', 'demand, guests', 'supply, guests']],
  [
    'a replay',
    { ...series(720), recordedSupply: series(720).demand, stepSeconds: 5, startAt: Date.UTC(2026, 0, 6, 3), title: 'x' },
    ['load, rps (right axis)', 'demand, guests', 'simulated supply, guests', 'recorded supply, guests'],
  ],
];
for (const [name, input, labels] of layouts) {
  test(`every legend label of ${name} is complete`, async (t) => {
    const l = layout(await renderSvg(input));
    // vega shortens a label past its labelLimit with an ellipsis.
    const shown = textsOf(l, 'role-legend-label').map((x) => x.text);
    t.false(shown.some((x) => x.includes('…')), shown.join(' | '));
    t.deepEqual(shown, labels);
    t.false(textsOf(l, 'role-legend-title').some((x) => x.text.includes('…')));
  });

  test(`the legend of ${name} is inside the image and covers no plot area`, async (t) => {
    const l = layout(await renderSvg(input));
    const legend = boxOf(l, 'role-legend');
    t.truthy(legend);
    t.true(l.plotAreas.length >= 1);
    t.true(inside(legend!, l.width, l.height), JSON.stringify({ legend, width: l.width, height: l.height }));
    for (const p of l.plotAreas) t.false(intersects(legend!, p), JSON.stringify({ legend, plotArea: p }));
  });
}

test('a long run is bucketed to a round duration, at most maxPoints buckets, and the legend says what a bucket is', async (t) => {
  const svg = await renderSvg({ ...series(100_000), stepSeconds: 1, title: 'x', maxPoints: 50 });
  // 100,000 s / 50 = 2000 s, rounded up to 1 h: 28 buckets (+1 point closing the last).
  t.true(pathPoints(svg, 'load-line').length <= 2 * 29);
  const title = textsOf(layout(svg), 'role-legend-title').map((x) => x.text).join(' ');
  t.is(title, 'each point is a 1 h bucket (3600 steps): line = mean over the bucket, band = its min to max');
});

test('a bucket shows the mean of each series, and how much of it was under-provisioned, not max demand against min supply', async (t) => {
  // 30 days of 5 s steps, supply one guest ahead but one below in 1 step of 500 (0.2% of the time).
  const run = mostlyAhead(30 * 17_280, 500);
  const svg = await renderSvg({ ...run, stepSeconds: 5, title: 'x' });
  const demand = pathPoints(svg, 'demand-line');
  const supply = pathPoints(svg, 'supply-line');
  t.is(demand.length, supply.length);
  t.true(demand.length > 100);
  // SVG y grows downwards: the mean supply is above the mean demand in every bucket.
  for (let i = 0; i < demand.length; i++) t.true(supply[i]![1] < demand[i]![1], `bucket ${i}: supply y ${supply[i]![1]} vs demand y ${demand[i]![1]}`);
  // The share panel states the whole run's timeshare_U.
  const l = layout(svg);
  t.true(l.texts.some((x) => x.text.includes('whole run: 0.20% of the time')), l.texts.map((x) => x.text).join(' | '));
  // Each bucket's share of time short is drawn within [0, a few %], never near 100%.
  const short = pathPoints(svg, 'supply-short');
  const panel = boxOf(l, 'short-panel')!;
  t.true(short.length > 100);
  t.true(short.every(([, y]) => y >= 0 && y <= panel.h));
});

test('bucket summaries: mean, min, max and the share of steps with supply < demand', (t) => {
  const [b] = buckets([10, 20, 30, 40], [1, 2, 3, 4], [[2, 2, 2, 5], [1, 2, 3, 4]], 4);
  t.deepEqual(b!.load, { mean: 25, min: 10, max: 40 });
  t.deepEqual(b!.demand, { mean: 2.5, min: 1, max: 4 });
  t.deepEqual(b!.supply[0], { mean: 2.75, min: 2, max: 5 });
  t.deepEqual(b!.short, [0.25, 0]);
  const two = buckets([1, 2, 3], [1, 1, 1], [[0, 1, 1]], 2);
  t.deepEqual(two.map((x) => [x.start, x.end, x.short[0]]), [[0, 2, 0.5], [2, 3, 0]]);
});

const sizes: [number, number, number, number][] = [
  // steps, step s, max points, steps per bucket
  [300, 5, 2000, 1],
  [1_011_990, 5, 2000, 720], // NASA at 5 s: 1 h buckets
  [379_813, 5, 2000, 360], // twitter: 30 min
  [100_000, 7, 2000, 50], // no round duration is a whole number of 7 s steps
];
for (const [n, step, max, want] of sizes) {
  test(`${n} steps of ${step} s in at most ${max} points: buckets of ${want} steps`, (t) => {
    const k = bucketSteps(n, step, max);
    t.is(k, want);
    t.true(Math.ceil(n / k) <= max);
  });
}

for (const [s, want] of [[5, '5 s'], [90, '1.5 min'], [3600, '1 h'], [86_400, '1 d'], [129_600, '36 h'], [5_059_950, '58.6 d']] as const) {
  test(`formatSeconds(${s}) is "${want}"`, (t) => t.is(formatSeconds(s), want));
}

const axes: [string, number, number, number | undefined, RegExp, RegExp][] = [
  // name, steps, step s, startAt, axis title, every tick label
  ['58 days without a start time', 58 * 288, 300, undefined, /^time \(days since the start\)$/, /^\d{1,2}$/],
  ['6 hours without a start time', 6 * 720, 5, undefined, /^time \(hours since the start\)$/, /^\d(\.5)?$/],
  ['58 days from 1995-07-01', 58 * 288, 300, Date.UTC(1995, 6, 1), /^time \(UTC\), from 1995-07-01 00:00$/, /^(Jul|Aug) \d\d$/],
  ['30 minutes from 2026-01-06 03:00', 360, 5, Date.UTC(2026, 0, 6, 3), /^time \(UTC\), from 2026-01-06 03:00$/, /^03:[0-5]\d$/],
];
for (const [name, n, step, startAt, title, label] of axes) {
  test(`the time axis of ${name} reads ${title.source.replace(/[\\^$]/g, '')}`, async (t) => {
    const svg = await renderSvg({ ...mostlyAhead(n, 50), stepSeconds: step, title: 'x', ...(startAt !== undefined ? { startAt } : {}) });
    const l = layout(svg);
    const titles = textsOf(l, 'role-axis-title').map((x) => x.text);
    t.true(titles.some((x) => title.test(x)), titles.join(' | '));
    // The x labels are those on the bottom panel's axis, which sits below the guests panel.
    const shortPanel = boxOf(l, 'short-panel')!;
    const xLabels = textsOf(l, 'role-axis-label').filter((x) => x.y > shortPanel.y + shortPanel.h + 8).map((x) => x.text);
    t.true(xLabels.length >= 4, xLabels.join(' '));
    for (const x of xLabels) t.regex(x, label);
  });
}

test('a replay draws the recorded supply beside the simulated one, and the share of time each was short', async (t) => {
  const run = series(720);
  const recorded = Int32Array.from(run.demand, (d, i) => (i < 360 ? d - 1 : d));
  const svg = await renderSvg({ ...run, recordedSupply: recorded, stepSeconds: 5, startAt: Date.UTC(2026, 0, 6, 3), title: 'x' });
  t.true(pathPoints(svg, 'recorded-supply-line').length > 100);
  t.regex(svg, /class="mark-line role-mark recorded-supply-line"[^>]*>\s*<path[^>]*stroke-dasharray/);
  t.true(pathPoints(svg, 'recorded-supply-short').length > 100);
  const shortOf = (x: ArrayLike<number>) => Array.from(x).filter((s, i) => s < run.demand[i]!).length / x.length;
  const text = `whole run: simulated ${(100 * shortOf(run.supply)).toFixed(2)}%, recorded ${(100 * shortOf(recorded)).toFixed(2)}% of the time`;
  t.true(layout(svg).texts.some((x) => x.text.includes(text)), text);
});

test('series of different lengths are a RangeError', async (t) => {
  await t.throwsAsync(renderSvg({ load: [1, 2], demand: [1, 2], supply: [1], stepSeconds: 5, title: 'x' }), { instanceOf: RangeError, message: /supply has 1/ });
});
