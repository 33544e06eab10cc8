// Contention-aware placement and host facts (policy contention) through the real Xen driver:
// two dom0s, each a real sshd on loopback with its own test/drivers/xen/fake-xl.sh state (the
// xl and xentop wrappers pick it by the port the session came in on), whose xentop CPU% and
// xl info nr_cpus the test sets.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { twoDom0s as twoDom0sFixture, type TwoDom0s } from './two-dom0s.ts';

const opened: TwoDom0s[] = [];
test.after.always(async () => {
  for (const e of opened) await e.close();
});

/** The shared two-dom0 fixture, its policy taking contention's saturated_at. */
async function twoDom0s() {
  const e = await twoDom0sFixture();
  opened.push(e);
  return { ...e, policy: (saturatedAt?: number) => e.policy(saturatedAt !== undefined ? { contention: { saturatedAt } } : {}) };
}

const setCpu = (state: string, domain: string, pct: number) => writeFileSync(join(state, 'cpu', domain), pct.toFixed(1));

test('hostFacts sums every domain\'s xentop CPU% (Domain-0 too) against xl info nr_cpus, with free memory', async (t) => {
  const e = await twoDom0s();
  writeFileSync(join(e.state['dom0-a']!, 'nr_cpus'), '4');
  setCpu(e.state['dom0-a']!, 'Domain-0', 120);
  setCpu(e.state['dom0-b']!, 'Domain-0', 30);
  // dom0-a: one guest of ours burning 250% besides Domain-0's 120%, on 4 CPUs.
  const c = await e.hv.clone({ id: 'web-h1', pool: 'web', policy: e.policy() });
  await e.hv.boot({ id: 'web-h1', pool: 'web', policy: e.policy() }, c.meta);
  t.is(c.host, 'dom0-a', 'the first name wins a tie');
  setCpu(e.state['dom0-a']!, 'gh-web-h1', 250);
  const facts = await e.hv.hostFacts();
  t.deepEqual(facts.map((f) => f.host), ['dom0-a', 'dom0-b']);
  t.is(facts[0]!.cpuRatio, (120 + 250) / 400);
  t.is(facts[1]!.cpuRatio, 30 / 200);
  t.is(facts[0]!.freeMemoryMb, 2014 - 128);
  t.is(facts[1]!.freeMemoryMb, 2014);
  const argv = readFileSync(join(e.state['dom0-a']!, 'argv'), 'utf8').split('\n');
  t.true(argv.includes('xentop -b -f -d 1 -i 2'), argv.join('\n'));
  t.true(argv.includes('info'));
});

test('with contention placement skips a saturated dom0 for one that is not, though the pool is already there', async (t) => {
  const e = await twoDom0s();
  // dom0-b is busy (190% of 2 CPUs = 0.95) with domains of others.
  setCpu(e.state['dom0-b']!, 'Domain-0', 190);
  // Without contention the first guest goes by name (a tie): dom0-a has the pool's guest now.
  const first = await e.hv.clone({ id: 'web-p1', pool: 'web', policy: e.policy() });
  t.is(first.host, 'dom0-a');
  await e.hv.boot({ id: 'web-p1', pool: 'web', policy: e.policy() }, first.meta);
  const second = await e.hv.clone({ id: 'web-p2', pool: 'web', policy: e.policy(0.9) });
  t.is(second.host, 'dom0-a', 'spread would pick dom0-b; saturation wins over spread');
  // Without contention the same facts spread the pool as always.
  const third = await e.hv.clone({ id: 'web-p3', pool: 'web', policy: e.policy() });
  t.is(third.host, 'dom0-b');
});

test('a dom0 whose xentop output cannot be read has no CPU figure (not saturated) and keeps its free memory', async (t) => {
  const e = await twoDom0s();
  writeFileSync(join(e.state['dom0-b']!, 'cpu', 'Domain-0'), 'lots');
  const facts = await e.hv.hostFacts();
  t.deepEqual(facts[1], { host: 'dom0-b', freeMemoryMb: 2014 });
  t.is(facts[0]!.cpuRatio, 0);
});
