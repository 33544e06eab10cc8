// `npm run bench`: figures, not assertions. Each section prints what it measured.
// (`npm run bench:elasticity` is separate: it replays month-long traces.) The Xen figures boot
// the real Xen lab (scripts/xen-lab/, ~5 minutes); GRIDHOST_BENCH_XEN=0 skips them, and
// `npm run bench:xen` runs them alone. The demo (the example pool 2 -> 8 -> 2 under the README's
// wrk command, ~5 minutes) is skipped with GRIDHOST_BENCH_DEMO=0.
// Sections can be named to run only them: `npm run bench -- decision` (names: see SECTIONS).
import os from 'node:os';
import { benchDecision } from './decision-bench.ts';
import { benchBalancer } from './balancer-bench.ts';
import { benchReaction } from './reaction-bench.ts';
import { benchPolicy } from './policy-bench.ts';
import { benchOverload } from './overload-bench.ts';
import { benchDataPath, benchZeroFailure } from './haproxy-bench.ts';
import { benchWarmPool } from './warm-pool-bench.ts';

/** The sections in the order they run; `on` says whether a run without names includes it. */
const SECTIONS: { name: string; run: () => Promise<string>; on: boolean }[] = [
  { name: 'decision', run: benchDecision, on: true },
  { name: 'balancer', run: benchBalancer, on: true },
  { name: 'reaction', run: benchReaction, on: true },
  { name: 'warm-pool', run: benchWarmPool, on: true },
  { name: 'policy', run: benchPolicy, on: true },
  { name: 'overload', run: benchOverload, on: true },
  { name: 'demo', run: async () => (await import('./demo-bench.ts')).benchDemo(), on: process.env.GRIDHOST_BENCH_DEMO !== '0' },
  { name: 'data-path', run: benchDataPath, on: true },
  { name: 'zero-failure', run: benchZeroFailure, on: true },
  { name: 'xen', run: async () => (await import('./xen-bench.ts')).benchXen(), on: process.env.GRIDHOST_BENCH_XEN !== '0' },
];

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !SECTIONS.some((s) => s.name === a));
if (unknown.length > 0) {
  console.error(`npm run bench: unknown section ${unknown.join(', ')}: name any of ${SECTIONS.map((s) => s.name).join(', ')} (none: all)`);
  process.exit(2);
}
const chosen = asked.length > 0 ? SECTIONS.filter((s) => asked.includes(s.name)) : SECTIONS.filter((s) => s.on);

console.log(`gridhost bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${new Date().toISOString()}\n`);
for (const [i, s] of chosen.entries()) {
  if (i > 0) console.log('');
  console.log(await s.run());
}
process.exit(0);
