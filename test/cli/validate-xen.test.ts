// `gridhost validate` on xen policies: the shipped example passes with the repo's templates
// folder (its xl.cfg template exists there and renders with the xl driver's placeholders), and
// xen-only rules are located errors.
import { DEFAULT_GUEST_NETWORK, networkVars } from '../../src/drivers/xen/guest-network.ts';
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderXlCfg } from '../../src/drivers/xen/xl-cfg.ts';
import { REPO, runCli } from '../e2e/harness.ts';

const EXAMPLE = join(REPO, 'test', 'fixtures', 'xen', 'xweb.yaml');
const env = { GRIDHOST_TEMPLATES_DIR: join(REPO, 'templates'), GRIDHOST_CONFIG: '' };

test('the example xen policy validates against the repo templates folder', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'gridhost-validate-xen-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const r = await runCli(['validate', EXAMPLE], { cwd, env });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), `ok ${EXAMPLE} (pool xweb)`);
});

test('xen policies: a relative image and a missing xl.cfg template are located errors', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'gridhost-validate-xen-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const bad = readFileSync(EXAMPLE, 'utf8')
    .replace('image: /var/lib/xen/images/base.img', 'image: images/base.img')
    .replace('template: web.xen.xl.cfg', 'template: nope.xl.cfg');
  const file = join(cwd, 'bad.yaml');
  writeFileSync(file, bad);
  const r = await runCli(['validate', file], { cwd, env });
  t.is(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 2, r.stderr);
  t.regex(lines[0] ?? '', new RegExp(`^${file}:8:\\d+: guest\\.template: `));
  t.regex(lines[1] ?? '', new RegExp(`^${file}:9:\\d+: guest\\.image: a xen image is an absolute path on dom0`));
});

test('the example xl.cfg template renders with the placeholders the xl driver fills in', (t) => {
  const text = readFileSync(join(REPO, 'templates', 'web.xen.xl.cfg'), 'utf8');
  const out = renderXlCfg(text, {
    name: 'gh-xweb-1a2b3c4d', guest: 'xweb-1a2b3c4d', pool: 'xweb', uuid: '8c1d2f1e-7b43-4d7e-9a55-0c1f2e3d4a5b',
    mac: '00:16:3e:12:34:56', ip: '192.168.100.10', disk: '/var/lib/xen/images/xweb-1a2b3c4d.img', format: 'raw', memory: 128,
    ...networkVars(DEFAULT_GUEST_NETWORK),
  });
  t.regex(out, /^name {4}= "gh-xweb-1a2b3c4d"$/m);
  t.regex(out, /^extra {3}= "console=hvc0 quiet guestname=gh-xweb-1a2b3c4d guestip=192\.168\.100\.10\/24"$/m);
  t.regex(out, /^vif {5}= \[ 'bridge=xenbr0,mac=00:16:3e:12:34:56' \]$/m);
  t.regex(out, /^disk {4}= \[ 'format=raw,vdev=xvda,access=rw,target=\/var\/lib\/xen\/images\/xweb-1a2b3c4d\.img' \]$/m);
  t.regex(out, /^memory {2}= 128$/m);
  t.false(out.split('\n').some((l) => !l.startsWith('#') && l.includes('{{')), 'every placeholder outside comments is filled in');
});
