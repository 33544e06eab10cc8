// `npm run bench`: figures, not assertions. Each section prints what it measured.
// (`npm run bench:elasticity` is separate: it replays month-long traces.) The Xen figures boot
// the real Xen lab (scripts/xen-lab/, ~5 minutes); GRIDHOST_BENCH_XEN=0 skips them, and
// `npm run bench:xen` runs them alone.
import os from 'node:os';
import { benchDecision } from './decision-bench.ts';
import { benchBalancer } from './balancer-bench.ts';
import { benchReaction } from './reaction-bench.ts';

console.log(`gridhost bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${new Date().toISOString()}\n`);
console.log(await benchDecision());
console.log('');
console.log(await benchBalancer());
console.log('');
console.log(await benchReaction());
if (process.env.GRIDHOST_BENCH_XEN !== '0') {
  const { benchXen } = await import('./xen-bench.ts');
  console.log('');
  console.log(await benchXen());
}
process.exit(0);
