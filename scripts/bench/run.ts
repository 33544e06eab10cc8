// `npm run bench`: figures, not assertions. Each section prints what it measured.
// (`npm run bench:elasticity` is separate: it replays month-long traces.)
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
process.exit(0);
