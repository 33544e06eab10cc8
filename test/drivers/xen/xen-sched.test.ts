// The pool's credit weight and cap (policy guest.credit) and the template's pinning (cpus =)
// through the real Xen driver: a real sshd on loopback, test/drivers/xen/fake-xl.sh for xl,
// asserting the exact xl argv that reached dom0.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cfgCpus, creditArgv } from '../../../src/drivers/xen/xen-sched.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { guestOf, oneDom0Fixture, xenTemplate } from './one-dom0.ts';

const { setup: setupWith, cleanup } = oneDom0Fixture();
test.after.always(cleanup);
const template = (extra = '') => xenTemplate(extra);
const setup = (tpl = template()) => setupWith(tpl);

test('boot sets the pool\'s weight and cap with xl sched-credit2 on a credit2 dom0, and records them', async (t) => {
  const e = await setup();
  const spec = { id: 'web-s1', pool: 'web', policy: e.policy({ weight: 512, cap: 50 }) };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  t.true(e.argv().includes('sched-credit2 -d gh-web-s1 -w 512 -c 50'), e.argv().join('\n'));
  t.is(e.argv().filter((a) => a.startsWith('sched-')).length, 1);
  t.is(e.sched('gh-web-s1'), '512 50');
  t.like(b.meta, { scheduler: 'credit2', creditWeight: '512', creditCap: '50' });
});

test('on a credit dom0 it is xl sched-credit, with only what the policy sets', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'xen_scheduler'), 'credit');
  const spec = { id: 'web-s2', pool: 'web', policy: e.policy({ weight: 64 }) };
  await e.hv.boot(spec, (await e.hv.clone(spec)).meta);
  t.deepEqual(e.argv().filter((a) => a.startsWith('sched-')), ['sched-credit -d gh-web-s2 -w 64']);
  t.is(e.sched('gh-web-s2'), '64 0');
});

test('without guest.credit no scheduler command is sent', async (t) => {
  const e = await setup();
  const spec = { id: 'web-s3', pool: 'web', policy: e.policy() };
  const b = await e.hv.boot(spec, (await e.hv.clone(spec)).meta);
  t.deepEqual(e.argv().filter((a) => a.startsWith('sched-')), []);
  t.is(b.meta['scheduler'], undefined);
});

test('a dom0 whose scheduler has no credit parameters fails the boot with GH_SCHED_FAILED; stop and deleteClone leave nothing', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'xen_scheduler'), 'rtds');
  const spec = { id: 'web-s4', pool: 'web', policy: e.policy({ weight: 512 }) };
  const c = await e.hv.clone(spec);
  const err = await t.throwsAsync(e.hv.boot(spec, c.meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_SCHED_FAILED');
  t.regex(err!.message, /rtds scheduler/);
  // The controller cleans up a failed boot with the clone's meta, as for any boot failure.
  await e.hv.stop(guestOf('web-s4', c.meta), 2000);
  await e.hv.deleteClone(guestOf('web-s4', c.meta));
  t.deepEqual(e.domains(), []);
});

test('xl refusing the parameters fails the boot with GH_SCHED_FAILED and xl\'s own words', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'sched_fails'), '');
  const spec = { id: 'web-s5', pool: 'web', policy: e.policy({ cap: 50 }) };
  const err = await t.throwsAsync(e.hv.boot(spec, (await e.hv.clone(spec)).meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_SCHED_FAILED');
  t.regex(err!.message, /setting domain sched credit2: Invalid argument/);
});

test('after a restart reapply sets the policy\'s weight and cap again on the running domain', async (t) => {
  const e = await setup();
  const spec = { id: 'web-s6', pool: 'web', policy: e.policy({ weight: 512, cap: 50 }) };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  // Someone (or a policy edit) changed it meanwhile; a new gridhost process takes the guest up.
  writeFileSync(join(e.state, 'sched', 'gh-web-s6'), '256 0');
  const applied = await e.restarted().reapply(guestOf('web-s6', { ...c.meta, ...b.meta }), e.policy({ weight: 1024, cap: 25 }));
  t.is(e.sched('gh-web-s6'), '1024 25');
  t.deepEqual(e.argv().filter((a) => a.startsWith('sched-')), ['sched-credit2 -d gh-web-s6 -w 512 -c 50', 'sched-credit2 -d gh-web-s6 -w 1024 -c 25']);
  t.like(applied, { scheduler: 'credit2', creditWeight: '1024', creditCap: '25' });
});

test('a template\'s cpus = pinning reaches the rendered config as written and the guest\'s meta', async (t) => {
  const e = await setup(template('cpus = "0-1"\n'));
  const c = await e.hv.clone({ id: 'web-c1', pool: 'web', policy: e.policy() });
  t.true(readFileSync(join(e.dir, 'cfg', 'web-c1.cfg'), 'utf8').includes('cpus = "0-1"\n'));
  t.is(c.meta['cpus'], '0-1');
});

test('a template\'s cpus = that xl would not read is GH_TEMPLATE_INVALID before anything is cloned', async (t) => {
  const e = await setup(template('cpus = "0-1; reboot"\n'));
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-c2', pool: 'web', policy: e.policy() }), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_TEMPLATE_INVALID');
  t.deepEqual(readdirSync(join(e.dir, 'images')), ['base.img']);
  t.false(existsSync(join(e.dir, 'cfg', 'web-c2.cfg')));
});

const cpusCases: [string, string, string | undefined][] = [
  ['no cpus line: no pinning', 'memory = 128\n', undefined],
  ['one CPU', 'cpus = "2"\n', '2'],
  ['a range and a list', 'cpus = "0-3,6"\n', '0-3,6'],
  ['all but one', 'cpus = "all,^1"\n', 'all,^1'],
  ['a NUMA node', 'cpus = "nodes:0"\n', 'nodes:0'],
  ['one list per vCPU', 'cpus = ["2", "3"]\n', '2 3'],
  ['the last of repeated lines, as xl reads it', 'cpus = "1"\ncpus = "2-3" # pinned\n', '2-3'],
];
for (const [title, cfg, want] of cpusCases) test(`cfgCpus: ${title}`, (t) => t.is(cfgCpus(cfg), want));
for (const bad of ['cpus = 2\n', 'cpus = "two"\n', 'cpus = "0-1`id`"\n', 'cpus = []\n', 'cpus = "0-1" "2"\n']) {
  test(`cfgCpus refuses ${JSON.stringify(bad.trim())}`, (t) => {
    t.is(t.throws(() => cfgCpus(bad), { instanceOf: GridhostError })?.code, 'GH_TEMPLATE_INVALID');
  });
}

test('creditArgv is an argv array of validated parts, never a shell line', (t) => {
  t.deepEqual(creditArgv('/usr/lib/xen-4.17/bin/xl', 'credit2', 'gh-web-a1', { weight: 512, cap: 0 }), ['/usr/lib/xen-4.17/bin/xl', 'sched-credit2', '-d', 'gh-web-a1', '-w', '512', '-c', '0']);
  t.is(t.throws(() => creditArgv('/xl', 'credit2', 'gh-web;reboot', { weight: 1 }), { instanceOf: GridhostError })?.code, 'GH_UNSAFE_ARGUMENT');
  t.is(t.throws(() => creditArgv('/xl', 'null', 'gh-web-a1', { weight: 1 }), { instanceOf: GridhostError })?.code, 'GH_SCHED_FAILED');
});
