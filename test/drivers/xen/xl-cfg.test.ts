import test from 'ava';
import { cfgHeader, cfgMemoryMb, macFor, parseCfgHeader, renderXlCfg, uniqueMac, uuidFor } from '../../../src/drivers/xen/xl-cfg.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

const TEMPLATE = [
  '# web pool guest',
  'name    = {{name}}',
  'uuid    = {{uuid}}',
  'type    = "pv"',
  'kernel  = "/var/lib/xen/boot/vmlinux"',
  'extra   = "console=hvc0 guestname={{name}} guestip={{ip}}"',
  'memory  = {{memory}}',
  "vif     = [ 'bridge=xenbr0,mac={{mac}}' ]",
  "disk    = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]",
  'on_poweroff = "destroy" # {{not_a_placeholder_in_a_comment}}',
].join('\n');

const VARS = { name: 'web-1a2b', uuid: uuidFor('web-1a2b'), ip: '192.168.100.11', memory: 128, mac: macFor('web-1a2b'), format: 'raw', disk: '/var/lib/xen/images/web-1a2b.img' };

test('standalone placeholders become xl.cfg strings or numbers; inside strings they are inserted', (t) => {
  const out = renderXlCfg(TEMPLATE, VARS);
  t.true(out.includes('name    = "web-1a2b"'));
  t.true(out.includes(`uuid    = "${VARS.uuid}"`));
  t.true(out.includes('memory  = 128\n'));
  t.true(out.includes('extra   = "console=hvc0 guestname=web-1a2b guestip=192.168.100.11"'));
  t.true(out.includes(`vif     = [ 'bridge=xenbr0,mac=${VARS.mac}' ]`));
  t.true(out.includes("target=/var/lib/xen/images/web-1a2b.img' ]"));
  t.true(out.includes('# {{not_a_placeholder_in_a_comment}}'), 'comments are left alone');
  t.false(/\{\{(?!not_a)/.test(out));
});

const HOSTILE = ['web"1', "web'1", 'a b', 'x\nmemory = 99999', 'x,script=/tmp/evil', 'x]', '$(id)', '', 'a\\b', 'é'];
for (const v of HOSTILE) {
  test(`a value that could break out of its string is refused: ${JSON.stringify(v)}`, (t) => {
    const e = t.throws(() => renderXlCfg(TEMPLATE, { ...VARS, name: v }), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_TEMPLATE_INVALID');
  });
}

test('an unknown placeholder is GH_TEMPLATE_INVALID naming the line', (t) => {
  const e = t.throws(() => renderXlCfg('name = {{name}}\nvcpus = {{cpus}}', VARS), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_TEMPLATE_INVALID');
  t.true(e?.message.includes('line 2'));
  t.true(e?.message.includes('{{cpus}}'));
});

test('a non-finite number is refused', (t) => {
  t.is(t.throws(() => renderXlCfg('memory = {{memory}}', { memory: Number.NaN }), { instanceOf: GridhostError })?.code, 'GH_TEMPLATE_INVALID');
});

test('MACs are in Xen OUI 00:16:3e with the fourth byte below 0x80, deterministic per id', (t) => {
  const macs = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const m = macFor(`web-${i}`);
    t.regex(m, /^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
    t.is(macFor(`web-${i}`), m);
    macs.add(m);
  }
  t.true(macs.size >= 1990, `few clashes among 2000 ids (got ${2000 - macs.size})`);
});

test('uniqueMac skips MACs already used on the host', (t) => {
  const first = macFor('web-x');
  const m = uniqueMac('web-x', new Set([first]));
  t.not(m, first);
  t.is(m, macFor('web-x', 1));
  t.is(uniqueMac('web-x', new Set()), first);
});

test('uuidFor gives a stable, well-formed UUID per id', (t) => {
  t.regex(uuidFor('web-1'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(uuidFor('web-1'), uuidFor('web-1'));
  t.not(uuidFor('web-1'), uuidFor('web-2'));
});

test('the gridhost header round-trips and memory is read back from a rendered config', (t) => {
  const meta = { guest: 'web-1a2b', pool: 'web', ip: '192.168.100.11', disk: '/var/lib/xen/images/web-1a2b.img' };
  const text = `${cfgHeader(meta)}\n${renderXlCfg(TEMPLATE, VARS)}`;
  t.deepEqual(parseCfgHeader(text), meta);
  t.is(cfgMemoryMb(text), 128);
});

test('a repeated memory setting counts its last value, as xl reads it', (t) => {
  t.is(cfgMemoryMb('memory = 128\nvcpus = 1\nmemory = "512" # override\n'), 512);
  t.is(cfgMemoryMb('# memory = 4096\nmaxmem = 1024\n'), undefined);
});

test('a known placeholder without a value here says why instead of "unknown"', (t) => {
  const e = t.throws(() => renderXlCfg('extra = "guestgw={{gateway}}"', {}, { gateway: 'the network has no gateway' }));
  t.is((e as GridhostError).code, 'GH_TEMPLATE_INVALID');
  t.is(e!.message, 'xl.cfg template line 1: placeholder {{gateway}} has no value: the network has no gateway');
});
