// Chart of a simulation, rendered to SVG headless by vega (no canvas, no browser). Two panels on
// one time axis: guests (demand, supply and, for a replay, the recorded supply; load in rps on
// the right axis) and the share of time under-provisioned. A long run is bucketed
// (plot-buckets.ts): each line is a bucket's mean, each band its min..max, and the legend says
// how long a bucket is. The legend sits below the panels, so it can never cover the data.
import * as vega from 'vega';
import { bucketSteps, buckets, formatSeconds, overallShort } from './plot-buckets.ts';

export interface PlotInput {
  /** Requests per second at each step. */
  load: ArrayLike<number>;
  /** Guests needed at each step. */
  demand: ArrayLike<number>;
  /** Guests serving at each step (the simulated run). */
  supply: ArrayLike<number>;
  /** Guests serving at each step in the recorded run (a replay), drawn beside the simulated supply. */
  recordedSupply?: ArrayLike<number>;
  stepSeconds: number;
  /** Epoch ms of the first step: the time axis shows UTC dates. Without it, time since the start. */
  startAt?: number;
  title: string;
  /** Most buckets per series; longer runs are bucketed to a round duration (default 2000). */
  maxPoints?: number;
}

const WIDTH = 900;
const GUESTS_HEIGHT = 300;
const GAP = 34;
const SHORT_HEIGHT = 80;

const COLORS = { load: '#9aa5b1', demand: '#d62728', supply: '#1f77b4', recorded: '#9467bd' };

/** How the x axis reads: UTC dates, or days/hours/minutes since the start. */
interface TimeAxis {
  /** x value of step i. */
  at: (i: number) => number;
  scale: vega.Scale;
  axis: Partial<vega.Axis>;
}

function timeAxis(n: number, stepSeconds: number, startAt: number | undefined): TimeAxis {
  const span = n * stepSeconds;
  if (startAt !== undefined) {
    const format = span >= 3 * 86_400 ? '%b %d' : span >= 86_400 ? '%b %d %H:%M' : span >= 120 ? '%H:%M' : '%H:%M:%S';
    const from = new Date(startAt).toISOString().slice(0, 16).replace('T', ' ');
    return {
      at: (i) => startAt + i * stepSeconds * 1000,
      scale: { name: 'x', type: 'utc', range: [0, WIDTH], domain: { data: 'buckets', field: 't' } },
      axis: { formatType: 'utc', format, title: `time (UTC), from ${from}`, tickCount: 12, labelOverlap: true },
    };
  }
  const [unit, name] = span >= 2 * 86_400 ? [86_400, 'days'] : span >= 2 * 3600 ? [3600, 'hours'] : [60, 'minutes'];
  return {
    at: (i) => (i * stepSeconds) / unit,
    scale: { name: 'x', type: 'linear', range: [0, WIDTH], zero: true, nice: false, domain: { data: 'buckets', field: 't' } },
    axis: { title: `time (${name} since the start)`, tickCount: 12, format: '~g' },
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

export async function renderSvg(input: PlotInput): Promise<string> {
  const n = input.load.length;
  if (n === 0) throw new RangeError('nothing to plot: the run has no steps');
  for (const [name, x] of [['demand', input.demand], ['supply', input.supply], ['recordedSupply', input.recordedSupply]] as const) {
    if (x && x.length !== n) throw new RangeError(`load has ${n} steps but ${name} has ${x.length}`);
  }
  const size = bucketSteps(n, input.stepSeconds, input.maxPoints ?? 2000);
  const bucketed = size > 1;
  const time = timeAxis(n, input.stepSeconds, input.startAt);

  const supplies = [{ key: 's', label: input.recordedSupply ? 'simulated supply, guests' : 'supply, guests', color: COLORS.supply, values: input.supply, dash: [] as number[] }];
  if (input.recordedSupply) supplies.push({ key: 'r', label: 'recorded supply, guests', color: COLORS.recorded, values: input.recordedSupply, dash: [6, 3] });

  const bs = buckets(input.load, input.demand, supplies.map((s) => s.values), size);
  const rows = bs.map((b) => {
    const row: Record<string, number> = { t: time.at(b.start), load: b.load.mean, dMean: b.demand.mean, dMin: b.demand.min, dMax: b.demand.max };
    supplies.forEach((s, k) => {
      row[`${s.key}Mean`] = b.supply[k]!.mean;
      row[`${s.key}Min`] = b.supply[k]!.min;
      row[`${s.key}Max`] = b.supply[k]!.max;
      row[`${s.key}Short`] = b.short[k]!;
    });
    return row;
  });
  // Step lines hold each bucket's value until the next one; this row closes the last bucket.
  rows.push({ ...rows[rows.length - 1]!, t: time.at(n) });

  let guestsTop = 1;
  let loadTop = 0;
  let shortTop = 0;
  for (const r of rows) {
    guestsTop = Math.max(guestsTop, r.dMax!, ...supplies.map((s) => r[`${s.key}Max`]!));
    loadTop = Math.max(loadTop, r.load!);
    shortTop = Math.max(shortTop, ...supplies.map((s) => r[`${s.key}Short`]!));
  }

  const bucketText = formatSeconds(size * input.stepSeconds);
  const legendTitle = bucketed
    ? `each point is a ${bucketText} bucket (${size} steps): line = mean over the bucket, band = its min to max`
    : `each point is one ${formatSeconds(input.stepSeconds)} step`;
  const subtitle = `${formatSeconds(n * input.stepSeconds)} in ${n.toLocaleString('en-US')} steps of ${formatSeconds(input.stepSeconds)}`;
  const overall = supplies.map((s) => overallShort(s.values, input.demand));
  const overallText = supplies.length === 1 ? pct(overall[0]!) : supplies.map((s, k) => `${s.key === 'r' ? 'recorded' : 'simulated'} ${pct(overall[k]!)}`).join(', ');
  const shortTitle = `under-provisioned (supply < demand): share of each ${bucketed ? `${bucketText} bucket` : 'step'}; whole run: ${overallText} of the time`;

  const labels = ['load, rps (right axis)', 'demand, guests', ...supplies.map((s) => s.label)];
  const colors = [COLORS.load, COLORS.demand, ...supplies.map((s) => s.color)];
  const dashes = [[], [], ...supplies.map((s) => s.dash)];

  const enterXY = (y: string, field: string, extra: Record<string, unknown>) => ({
    enter: { x: { scale: 'x', field: 't' }, y: { scale: y, field }, interpolate: { value: 'step-after' }, ...extra },
  });
  const line = (name: string, y: string, field: string, color: string, width: number, dash: number[] = []): vega.Mark => ({
    type: 'line',
    name,
    description: name,
    from: { data: 'buckets' },
    encode: enterXY(y, field, { stroke: { value: color }, strokeWidth: { value: width }, ...(dash.length ? { strokeDash: { value: dash } } : {}) }) as vega.LineMark['encode'],
  });
  const band = (name: string, y: string, lo: string, hi: string, color: string, opacity: number): vega.Mark => ({
    type: 'area',
    name,
    description: name,
    from: { data: 'buckets' },
    encode: enterXY(y, hi, { y2: { scale: y, field: lo }, fill: { value: color }, fillOpacity: { value: opacity } }) as vega.AreaMark['encode'],
  });

  const guestMarks: vega.Mark[] = [];
  if (bucketed) {
    guestMarks.push(band('demand-band', 'guests', 'dMin', 'dMax', COLORS.demand, 0.12));
    for (const s of supplies) guestMarks.push(band(`${s.key === 'r' ? 'recorded-supply' : 'supply'}-band`, 'guests', `${s.key}Min`, `${s.key}Max`, s.color, 0.16));
  }
  guestMarks.push(line('load-line', 'rps', 'load', COLORS.load, 1));
  guestMarks.push(line('demand-line', 'guests', 'dMean', COLORS.demand, 1.5));
  for (const s of supplies) guestMarks.push(line(`${s.key === 'r' ? 'recorded-supply' : 'supply'}-line`, 'guests', `${s.key}Mean`, s.color, 2, s.dash));

  const shortMarks: vega.Mark[] = supplies.map((s) => ({
    type: 'area',
    name: `${s.key === 'r' ? 'recorded-supply' : 'supply'}-short`,
    description: `${s.label}: share of time under-provisioned`,
    from: { data: 'buckets' },
    encode: enterXY('short', `${s.key}Short`, { y2: { scale: 'short', value: 0 }, fill: { value: s.color }, fillOpacity: { value: 0.55 } }) as vega.AreaMark['encode'],
  }));

  const spec: vega.Spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    description: input.title,
    width: WIDTH,
    height: GUESTS_HEIGHT + GAP + SHORT_HEIGHT,
    padding: 10,
    title: { text: input.title, subtitle },
    data: [{ name: 'buckets', values: rows }],
    scales: [
      time.scale,
      { name: 'color', type: 'ordinal', domain: labels, range: colors },
      { name: 'dash', type: 'ordinal', domain: labels, range: dashes as unknown as vega.RangeScheme },
    ],
    legends: [
      {
        stroke: 'color',
        strokeDash: 'dash',
        orient: 'bottom',
        direction: 'horizontal',
        symbolType: 'stroke',
        symbolStrokeWidth: 2,
        title: legendTitle,
        titleOrient: 'top',
        titleLimit: 0,
        labelLimit: 0,
        columnPadding: 24,
        offset: 14,
      },
    ],
    marks: [
      {
        type: 'group',
        name: 'guests-panel',
        encode: { enter: { x: { value: 0 }, y: { value: 0 }, width: { value: WIDTH }, height: { value: GUESTS_HEIGHT } } },
        scales: [
          { name: 'guests', type: 'linear', range: [GUESTS_HEIGHT, 0], domain: [0, guestsTop], nice: true, zero: true },
          { name: 'rps', type: 'linear', range: [GUESTS_HEIGHT, 0], domain: [0, Math.max(loadTop, 1)], nice: true, zero: true },
        ],
        axes: [
          // Ticks and grid only: the labels are on the panel below, and the tick count must match it.
          { orient: 'bottom', scale: 'x', labels: false, grid: true, gridOpacity: 0.35, ...(time.axis.tickCount !== undefined ? { tickCount: time.axis.tickCount } : {}) },
          { orient: 'left', scale: 'guests', title: 'guests', tickMinStep: 1, grid: true, gridOpacity: 0.35 },
          { orient: 'right', scale: 'rps', title: 'requests per second' },
        ],
        marks: guestMarks,
      },
      {
        type: 'group',
        name: 'short-panel',
        title: { text: shortTitle, anchor: 'start', fontSize: 11, fontWeight: 'normal', offset: 6 },
        encode: { enter: { x: { value: 0 }, y: { value: GUESTS_HEIGHT + GAP }, width: { value: WIDTH }, height: { value: SHORT_HEIGHT } } },
        scales: [{ name: 'short', type: 'linear', range: [SHORT_HEIGHT, 0], domain: [0, Math.max(shortTop, 0.01)], nice: true, zero: true }],
        axes: [
          { orient: 'bottom', scale: 'x', ...time.axis } as vega.Axis,
          { orient: 'left', scale: 'short', format: '.2~%', tickCount: 3, grid: true, gridOpacity: 0.35 },
        ],
        marks: shortMarks,
      },
    ],
  };
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
