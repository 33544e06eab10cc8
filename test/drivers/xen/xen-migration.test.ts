// Live migration (drain-host) through the real Xen driver: two dom0s, each a real sshd on
// loopback with its own fake-xl state; `xl migrate` moves the domain between the two states.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Guest } from '../../../src/domain/types.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { cfgOnHost, migrationPeers } from '../../../src/drivers/xen/live-migration.ts';
import { twoDom0s, type TwoDom0s } from './two-dom0s.ts';

const opened: TwoDom0s[] = [];
test.after.always(async () => {
  for (const e of opened) await e.close();
});

async function setup(storage: Record<string, string> = { 'dom0-a': 'nfs1', 'dom0-b': 'nfs1' }): Promise<TwoDom0s> {
  const e = await twoDom0s({ storageByHost: storage, migrateToByHost: { 'dom0-a': 'dom0-a.lan', 'dom0-b': 'dom0-b.lan' } });
  opened.push(e);
  // The fake's map of the addresses xl migrate is given to each dom0's state.
  for (const [from, to] of [['dom0-a', 'dom0-b'], ['dom0-b', 'dom0-a']] as const) {
    mkdirSync(join(e.state[from]!, 'peers'), { recursive: true });
    writeFileSync(join(e.state[from]!, 'peers', `${to}.lan`), e.state[to]!);
  }
  return e;
}

const domainsOn = (e: TwoDom0s, h: string): string[] => (existsSync(join(e.state[h]!, 'domains')) ? readdirSync(join(e.state[h]!, 'domains')) : []);
const argvOn = (e: TwoDom0s, h: string): string[] => (existsSync(join(e.state[h]!, 'argv')) ? readFileSync(join(e.state[h]!, 'argv'), 'utf8').split('\n') : []);

async function guestOn(e: TwoDom0s, id: string, fence = { pool: 'web', token: 3, holder: 'proc-a', acquiredAt: 5_000 }): Promise<Guest> {
  const spec = { id, pool: 'web', policy: e.policy(), fence, avoidHosts: ['dom0-b'] };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  return { id, pool: 'web', state: 'healthy', driver: 'xen', host: c.host!, address: b.address!, createdAt: 1, updatedAt: 1, meta: { ...c.meta, ...b.meta } };
}

test('migration peers are the other dom0s of the same storage group; a dom0 without one has none', (t) => {
  const s = { a: 'nfs1', b: 'nfs1', c: 'nfs2' };
  t.deepEqual(migrationPeers('a', s, ['a', 'b', 'c', 'd']), ['b']);
  t.deepEqual(migrationPeers('d', s, ['a', 'b', 'c', 'd']), []);
  t.is(cfgOnHost('# gridhost.guest = w\n# gridhost.host = a\nname = "gh-w"\n', 'b'), '# gridhost.guest = w\n# gridhost.host = b\nname = "gh-w"\n');
});

test('migrate moves a running guest to its storage peer with xl migrate on the source, behind the fence, and says where it runs now', async (t) => {
  const e = await setup();
  const fence = { pool: 'web', token: 3, holder: 'proc-a', acquiredAt: 5_000 };
  const g = await guestOn(e, 'web-m1', fence);
  t.is(g.host, 'dom0-a');
  const cfgPath = join(e.cfgDir, 'web-m1.cfg');
  const cfgText = readFileSync(cfgPath, 'utf8');
  const moved = await e.hv.migrate(g, { policy: e.policy(), avoidHosts: ['dom0-a'], fence });
  t.is(moved?.host, 'dom0-b');
  t.regex(moved?.meta['domid'] ?? '', /^\d+$/);
  t.deepEqual(domainsOn(e, 'dom0-a'), []);
  t.deepEqual(domainsOn(e, 'dom0-b'), ['gh-web-m1']);
  t.true(argvOn(e, 'dom0-a').includes('migrate gh-web-m1 dom0-b.lan'), argvOn(e, 'dom0-a').join('\n'));
  t.false(argvOn(e, 'dom0-b').some((l) => l.startsWith('migrate')));
  t.deepEqual(readdirSync(e.cfgDir).filter((f) => f.endsWith('.reserve')), [], 'the reservation on the target is gone once the domain is there');
  // The config moved with it. (Both fake dom0s are this machine, with one config folder: its
  // removal from the source removed the target's copy too; put it back for the next step.)
  writeFileSync(cfgPath, cfgOnHost(cfgText, 'dom0-b'));
  // A deposed leader cannot move it back.
  const stale = { pool: 'web', token: 2, holder: 'proc-old', acquiredAt: 1_000 };
  const err = await t.throwsAsync(e.hv.migrate({ ...g, host: 'dom0-b', meta: { ...g.meta, host: 'dom0-b' } }, { policy: e.policy(), avoidHosts: ['dom0-b'], fence: stale }));
  t.is((err as GridhostError).code, 'GH_FENCED', err?.message);
  t.deepEqual(domainsOn(e, 'dom0-b'), ['gh-web-m1']);
});

test('a failed xl migrate is GH_MIGRATE_FAILED with xl\'s reason, the guest still runs on the source and no reservation is left', async (t) => {
  const e = await setup();
  const g = await guestOn(e, 'web-m2');
  writeFileSync(join(e.state['dom0-a']!, 'migrate_fails'), '');
  const err = await t.throwsAsync(e.hv.migrate(g, { policy: e.policy(), avoidHosts: ['dom0-a'] }));
  t.is((err as GridhostError).code, 'GH_MIGRATE_FAILED');
  t.regex(err!.message, /xl migrate gh-web-m2 dom0-b\.lan failed \(exit 1\).*it still runs on dom0-a/);
  t.deepEqual(domainsOn(e, 'dom0-a'), ['gh-web-m2']);
  t.deepEqual(domainsOn(e, 'dom0-b'), []);
  t.deepEqual(readdirSync(e.cfgDir).filter((f) => f.endsWith('.reserve')), []);
});

test('no storage peer, or every peer closed: migrate does nothing and says it cannot (undefined), so the caller replaces the guest', async (t) => {
  const e = await setup({ 'dom0-a': 'nfs1', 'dom0-b': 'nfs2' });
  const g = await guestOn(e, 'web-m3');
  t.is(await e.hv.migrate(g, { policy: e.policy(), avoidHosts: ['dom0-a'] }), undefined);
  const f = await setup();
  const h = await guestOn(f, 'web-m4');
  t.is(await f.hv.migrate(h, { policy: f.policy(), avoidHosts: ['dom0-a', 'dom0-b'] }), undefined);
  t.false(argvOn(e, 'dom0-a').some((l) => l.startsWith('migrate')) || argvOn(f, 'dom0-a').some((l) => l.startsWith('migrate')));
  t.deepEqual(domainsOn(f, 'dom0-a'), ['gh-web-m4']);
});
