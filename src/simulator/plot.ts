// Chart of a simulation: load (rps, right axis), demand and supply (guests, left axis) over
// time, rendered to SVG headless by vega (no canvas, no browser).
import * as vega from 'vega';

export interface PlotInput {
  /** Requests per second at each step. */
  load: ArrayLike<number>;
  /** Guests needed at each step. */
  demand: ArrayLike<number>;
  /** Guests serving at each step. */
  supply: ArrayLike<number>;
  stepSeconds: number;
  title: string;
  /** Most points per series drawn; longer runs are bucketed (default 2000). */
  maxPoints?: number;
}

interface Row {
  t: number;
  v: number;
}

/** Bucket a series to at most `max` points; `pick` chooses each bucket's value. */
function bucket(x: ArrayLike<number>, size: number, stepHours: number, pick: 'max' | 'min'): Row[] {
  const rows: Row[] = [];
  for (let s = 0; s < x.length; s += size) {
    const e = Math.min(s + size, x.length);
    let v = x[s]!;
    for (let i = s + 1; i < e; i++) v = pick === 'max' ? Math.max(v, x[i]!) : Math.min(v, x[i]!);
    rows.push({ t: s * stepHours, v });
  }
  return rows;
}

export async function renderSvg(input: PlotInput): Promise<string> {
  const n = input.load.length;
  const max = input.maxPoints ?? 2000;
  const size = Math.max(1, Math.ceil(n / max));
  const stepHours = input.stepSeconds / 3600;
  // Peaks of load and demand matter most; the worst (lowest) supply of a bucket shows gaps.
  const load = bucket(input.load, size, stepHours, 'max');
  const demand = bucket(input.demand, size, stepHours, 'max');
  const supply = bucket(input.supply, size, stepHours, 'min');
  const subtitle = size > 1 ? `each point covers ${size * input.stepSeconds} s: max load, max demand, min supply` : `step ${input.stepSeconds} s`;
  const line = (name: string, data: string, y: string, color: string, interpolate: string, width: number) => ({
    type: 'line',
    name,
    description: name,
    from: { data },
    encode: {
      enter: {
        x: { scale: 'x', field: 't' },
        y: { scale: y, field: 'v' },
        stroke: { value: color },
        strokeWidth: { value: width },
        interpolate: { value: interpolate },
      },
    },
  });
  const spec: vega.Spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    description: input.title,
    width: 900,
    height: 320,
    padding: 8,
    title: { text: input.title, subtitle },
    data: [
      { name: 'load', values: load },
      { name: 'demand', values: demand },
      { name: 'supply', values: supply },
      {
        name: 'legend',
        values: [
          { s: 'load (rps, right axis)' },
          { s: 'demand (guests)' },
          { s: 'supply (guests)' },
        ],
      },
    ],
    scales: [
      { name: 'x', type: 'linear', range: 'width', zero: true, domain: { fields: [{ data: 'load', field: 't' }] } },
      {
        name: 'guests',
        type: 'linear',
        range: 'height',
        nice: true,
        zero: true,
        domain: { fields: [{ data: 'demand', field: 'v' }, { data: 'supply', field: 'v' }] },
      },
      { name: 'rps', type: 'linear', range: 'height', nice: true, zero: true, domain: { data: 'load', field: 'v' } },
      {
        name: 'color',
        type: 'ordinal',
        domain: { data: 'legend', field: 's' },
        range: ['#9aa5b1', '#d62728', '#1f77b4'],
      },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'time (hours)' },
      { orient: 'left', scale: 'guests', title: 'guests', tickMinStep: 1 },
      { orient: 'right', scale: 'rps', title: 'requests per second' },
    ],
    legends: [{ stroke: 'color', orient: 'top-left', symbolType: 'stroke' }],
    marks: [
      line('load-line', 'load', 'rps', '#9aa5b1', 'linear', 1),
      line('demand-line', 'demand', 'guests', '#d62728', 'step-after', 1.5),
      line('supply-line', 'supply', 'guests', '#1f77b4', 'step-after', 2),
    ] as vega.Mark[],
  };
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
