// Elasticity benchmark (`npm run bench:elasticity`; not a test): gridhost's default policy
// (policies/web.yaml) against the published baseline autoscalers, replayed by the simulator on
// the shared real traces and on synthetic ones. Every trace is aggregated (mean) to the default
// policy's sampling interval and scaled so its peak needs 8 guests; all policies run on the same
// steps (each samples at its own interval) and are scored against the same demand curve.
// Prints one table per trace and, under it, the verdict against the targets: no baseline
// dominates gridhost (lower-or-equal timeshare_U and guest-hours, one of them strictly lower), and
// gridhost dominates the baseline with the lowest timeshare_U; then a summary over all traces
// (the first target must hold on every trace, the second on most).
//
// Options: --policy FILE       the gridhost policy to judge (default policies/web.yaml)
//          --capacity RPS      rps per guest at 100% cpu (default 60, see below)
//          --only NAME[,NAME]  run only these traces (nasa, twitter, step, ramp, spike, diurnal)
//          --days N            cut the real traces to their first N days
//          --json              print the results as JSON instead of tables
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Policy } from '../../src/domain/policy.ts';
import { loadPolicyFile } from '../../src/policy/load-policy.ts';
import { BASELINES, BASELINE_STRATEGIES } from '../../src/simulator/baselines/index.ts';
import type { ElasticityMetrics } from '../../src/simulator/bungee.ts';
import { demandCurve } from '../../src/simulator/bungee.ts';
import { simulate } from '../../src/simulator/simulate.ts';
import { diurnalTrace, rampTrace, spikeTrace, stepTrace } from '../../src/simulator/synthetic.ts';
import { aggregate, readTrace, scaleToPeak, type Trace } from '../../src/simulator/trace.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// The shared real traces: $GRIDHOST_TRACES, else shared/traces beside the checkout (a worktree
// sits one level deeper).
const SHARED =
  process.env.GRIDHOST_TRACES ??
  [path.resolve(ROOT, '..', 'shared', 'traces'), path.resolve(ROOT, '..', '..', 'shared', 'traces')].find((d) => existsSync(d)) ??
  path.resolve(ROOT, '..', 'shared', 'traces');
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
// rps per guest at 100% cpu. 60 is what the example guest web.yaml is written for serves: it
// burns WORK_MS = 15 ms of CPU per request (<= 66.7 rps on one CPU) plus the HTTP handling.
// web.yaml's two target-tracking rules (rps 45, cpu 75%) agree at 60. At another capacity they
// still do not fight (the higher opinion wins), but the rps target is then no longer 75% of a
// guest: slower guests are sized by cpu, faster ones are over-provisioned by rps (try
// --capacity 50 or 70). The baselines are all cpu-based, so their figures do not depend on it
// (traces are scaled to capacity x 8).
const CAPACITY = Number(arg('--capacity') ?? 60);
const PEAK_GUESTS = 8;
const MODEL = { capacityPerGuest: CAPACITY, bootSeconds: 30, healthDelaySeconds: 5, drainSeconds: 10, seed: 1 };

const only = arg('--only')?.split(',');
const days = arg('--days') === undefined ? undefined : Number(arg('--days'));
const asJson = process.argv.includes('--json');

// --policy FILE: judge another candidate default policy against the same baselines.
const POLICY_FILE = path.resolve(arg('--policy') ?? path.join(ROOT, 'policies', 'web.yaml'));
const web = loadPolicyFile(POLICY_FILE, { templatesDir: path.join(ROOT, 'templates'), checkFiles: false });
const step = web.sampling.intervalMs / 1000;

interface NamedTrace {
  name: string;
  describe: string;
  load: () => Promise<Trace>;
}

const H = 3600;
const traces: NamedTrace[] = [
  { name: 'nasa', describe: 'NASA KSC web server, Jul-Aug 1995', load: () => readTrace(path.join(SHARED, 'nasa-1995-rps.tbz2')) },
  { name: 'twitter', describe: 'Twitter stream sample, Aug 2021', load: () => readTrace(path.join(SHARED, 'twitter-2021-08-rps.tbz2')) },
  { name: 'step', describe: 'synthetic: 2 h low, then a step to the peak for 4 h', load: async () => stepTrace({ seconds: 6 * H, low: 30, high: 300, at: 2 * H, noise: 0.1, seed: 11 }) },
  { name: 'ramp', describe: 'synthetic: linear ramp over 4 h, then flat', load: async () => rampTrace({ seconds: 6 * H, from: 20, to: 300, start: H, end: 5 * H, noise: 0.1, seed: 12 }) },
  { name: 'spike', describe: 'synthetic: campaign launch, 5 min rise, 1 h decay', load: async () => spikeTrace({ seconds: 8 * H, base: 40, peak: 300, at: 2 * H, rise: 300, decay: H, noise: 0.1, seed: 13 }) },
  { name: 'diurnal', describe: 'synthetic: 7 days of a daily cycle with 20% noise', load: async () => diurnalTrace({ seconds: 7 * 24 * H, low: 10, high: 300, noise: 0.2, seed: 14 }) },
];

interface Row {
  policy: string;
  metrics: ElasticityMetrics;
  cpuSeconds: number;
}

function contenders(): { name: string; policy: Policy; baseline: boolean }[] {
  return [
    { name: `gridhost ${path.basename(POLICY_FILE)}`, policy: web, baseline: false },
    ...BASELINES.map((b) => ({ name: b.name, policy: b.policy(web), baseline: true })),
  ];
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function table(rows: Row[]): string {
  const head = ['policy', 'guest-hours', 'accuracy_U', 'accuracy_O', 'timeshare_U', 'timeshare_O', 'jitter/min', 'actions', 'req_U'];
  const body = rows.map((r) => [
    r.policy,
    r.metrics.guestHours.toFixed(1),
    r.metrics.accuracyU.toFixed(4),
    r.metrics.accuracyO.toFixed(3),
    (100 * r.metrics.timeshareU).toFixed(3) + '%',
    (100 * r.metrics.timeshareO).toFixed(1) + '%',
    r.metrics.jitter.toFixed(3),
    String(r.metrics.scaleActions),
    (100 * r.metrics.underProvisionedRequests).toFixed(2) + '%',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => pad(c, widths[i]!, i > 0)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w, i) => (i > 0 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|', ...body.map(line)].join('\n');
}

/** b dominates a: no worse on both timeshare_U and guest-hours, better on one. */
function dominates(b: ElasticityMetrics, a: ElasticityMetrics): boolean {
  const u = b.timeshareU - a.timeshareU;
  const gh = b.guestHours - a.guestHours;
  const EPS = 1e-9;
  return u <= EPS && gh <= EPS && (u < -EPS || gh < -EPS);
}

interface Verdict {
  /** Baselines that dominate gridhost (the target: none). */
  dominatedBy: string[];
  /** The baseline with the lowest timeshare_U (the cheapest of them on a tie). */
  fastest: Row;
  /** Whether gridhost dominates it (the target: on most traces). */
  beatsFastest: boolean;
  /** gridhost's timeshare_U is the floor no policy can go below (see unavoidableU). */
  atFloor: boolean;
}

/**
 * The part of timeshare_U no policy can avoid: steps before the first guest a policy could add
 * (first sampling tick + boot + health delay) where demand exceeds the min guests it starts with.
 */
function unavoidableU(values: Float64Array, stepSeconds: number): number {
  const demand = demandCurve(values, CAPACITY, web.min, web.max);
  const earliest = step + MODEL.bootSeconds + MODEL.healthDelaySeconds;
  let under = 0;
  for (let i = 0; i < demand.length && i * stepSeconds < earliest; i++) if (demand[i]! > web.min) under++;
  return under / demand.length;
}

function judge(rows: Row[], floorU: number): Verdict {
  const ours = rows[0]!;
  const base = rows.slice(1);
  const fastest = base.reduce((a, b) =>
    b.metrics.timeshareU < a.metrics.timeshareU || (b.metrics.timeshareU === a.metrics.timeshareU && b.metrics.guestHours < a.metrics.guestHours) ? b : a,
  );
  return {
    dominatedBy: base.filter((b) => dominates(b.metrics, ours.metrics)).map((b) => b.policy),
    fastest,
    beatsFastest: dominates(ours.metrics, fastest.metrics),
    atFloor: ours.metrics.timeshareU <= floorU,
  };
}

const p2 = (x: number): string => `${(100 * x).toFixed(3)}%`;
const signed = (x: number, digits: number, unit = ''): string => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}${unit}`;

function verdict(rows: Row[], floorU: number): string {
  const v = judge(rows, floorU);
  const g = rows[0]!.metrics;
  const f = v.fastest.metrics;
  const none = v.dominatedBy.length === 0 ? 'no baseline dominates gridhost: met' : `dominated by ${v.dominatedBy.join(', ')}: NOT met`;
  const vsFastest =
    `against the baseline with the lowest timeshare_U, ${v.fastest.policy} (${p2(f.timeshareU)}, ${f.guestHours.toFixed(1)} guest-hours): ` +
    `timeshare_U ${signed(100 * (g.timeshareU - f.timeshareU), 3, ' pt')}, guest-hours ${signed(g.guestHours - f.guestHours, 1)} ` +
    `(${signed((100 * (g.guestHours - f.guestHours)) / f.guestHours, 1, '%')}): ${v.beatsFastest ? 'gridhost dominates it' : 'gridhost does not dominate it'}` +
    (v.atFloor ? ` (gridhost's timeshare_U ${p2(g.timeshareU)} is the floor no policy can go below: under-provisioned before any new guest can boot)` : '');
  return `verdict (${rows[0]!.policy}): ${none}; ${vsFastest}`;
}

/** One line per trace, then the two targets over all traces. */
function summary(all: Record<string, { rows: Row[]; floorU: number }>): string {
  const head = ['trace', 'timeshare_U gridhost', 'guest-hours gridhost', 'lowest-U baseline', 'its timeshare_U', 'its guest-hours', 'dominated by', 'dominates lowest-U'];
  const entries = Object.entries(all);
  const verdicts = entries.map(([name, { rows, floorU }]) => ({ name, rows, v: judge(rows, floorU) }));
  const body = verdicts.map(({ name, rows, v }) => [
    name,
    p2(rows[0]!.metrics.timeshareU),
    rows[0]!.metrics.guestHours.toFixed(1),
    v.fastest.policy,
    p2(v.fastest.metrics.timeshareU),
    v.fastest.metrics.guestHours.toFixed(1),
    v.dominatedBy.length === 0 ? 'none' : v.dominatedBy.join(', '),
    v.beatsFastest ? 'yes' : v.atFloor ? 'no (U at the floor)' : 'no',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => pad(c, widths[i]!, i === 1 || i === 2 || i === 4 || i === 5)).join(' | ') + ' |';
  const undominated = verdicts.filter((x) => x.v.dominatedBy.length === 0).length;
  const dominating = verdicts.filter((x) => x.v.beatsFastest).length;
  const n = verdicts.length;
  return [
    line(head),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...body.map(line),
    '',
    `no baseline dominates gridhost on every trace: ${undominated === n ? 'met' : 'NOT met'} (${undominated} of ${n} traces)`,
    `gridhost dominates the lowest-timeshare_U baseline on most traces: ${dominating > n / 2 ? 'met' : 'NOT met'} (${dominating} of ${n} traces)`,
  ].join('\n');
}

const results: Record<string, { describe: string; steps: number; stepSeconds: number; floorU: number; rows: Row[] }> = {};
if (!asJson) {
  console.log(`# Elasticity benchmark\n`);
  console.log(`model: ${CAPACITY} rps per guest at 100% cpu, boot ${MODEL.bootSeconds} s + health ${MODEL.healthDelaySeconds} s, drain ${MODEL.drainSeconds} s, seed ${MODEL.seed}; pool min ${web.min}, max ${web.max}`);
  console.log(`traces: mean-aggregated to ${step} s (web.yaml's sampling interval), scaled so the peak needs ${PEAK_GUESTS} guests; demand = clamp(ceil(load / ${CAPACITY}), ${web.min}, ${web.max})`);
  console.log(`req_U = requests that arrived while under-provisioned; jitter = supply - demand adaptations per minute\n`);
}
for (const t of traces) {
  if (only && !only.includes(t.name)) continue;
  if ((t.name === 'nasa' || t.name === 'twitter') && !existsSync(SHARED)) {
    console.log(`## ${t.name}: skipped, ${SHARED} not found\n`);
    continue;
  }
  let tr = await t.load();
  if (tr.stepSeconds !== step) tr = aggregate(tr, step, 'mean');
  if (days !== undefined && (t.name === 'nasa' || t.name === 'twitter')) tr = { ...tr, values: tr.values.subarray(0, Math.ceil((days * 86_400) / step)) };
  tr = scaleToPeak(tr, CAPACITY, PEAK_GUESTS);
  const rows: Row[] = [];
  for (const c of contenders()) {
    const c0 = process.cpuUsage();
    const r = simulate({ policy: c.policy, trace: tr.values, stepSeconds: tr.stepSeconds, ...MODEL, strategies: BASELINE_STRATEGIES });
    const cpu = process.cpuUsage(c0);
    rows.push({ policy: c.name, metrics: r.metrics, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  }
  const floorU = unavoidableU(tr.values, tr.stepSeconds);
  results[t.name] = { describe: t.describe, steps: tr.values.length, stepSeconds: tr.stepSeconds, floorU, rows };
  if (!asJson) {
    const d = (tr.values.length * tr.stepSeconds) / 86_400;
    const cpu = rows.reduce((a, r) => a + r.cpuSeconds, 0);
    console.log(`## ${t.name}: ${t.describe} (${d.toFixed(d < 2 ? 2 : 1)} days, ${tr.values.length} steps; simulated in ${cpu.toFixed(1)} s cpu)\n`);
    console.log(table(rows));
    console.log(`\n${verdict(rows, floorU)}\n`);
  }
}
if (asJson) console.log(JSON.stringify({ model: MODEL, peakGuests: PEAK_GUESTS, stepSeconds: step, results }, null, 2));
else if (Object.keys(results).length > 0) console.log(`## Summary: gridhost ${path.basename(POLICY_FILE)} against the targets\n\n${summary(results)}`);
