// `npm run bench`: figures, not assertions. Each section prints what it measured.
import { benchDecision } from './decision-bench.ts';
import { benchReaction } from './reaction-bench.ts';

console.log(`gridhost bench on ${process.version}, ${(await import('node:os')).cpus().length} CPUs, ${new Date().toISOString()}\n`);
console.log(await benchDecision());
console.log('');
console.log(await benchReaction());
process.exit(0);
