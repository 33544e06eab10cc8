// Proves the Xen lab: a real Xen 4.17 dom0 answers xl over SSH, a PV domU cloned from the base
// image boots and serves HTTP, load sent from the host (through dom0's SSH) shows as domU CPU
// in xentop, and destroying it leaves nothing behind.
import test from 'ava';
import http from 'node:http';
import { startLab, type Lab } from './lab.ts';

const NAME = 'labsmoke1';
const IP = '192.168.100.21';
const MAC = '00:16:3e:00:00:21';

function renderCfg(lab: Lab, disk: string): string {
  return [
    `name = "${NAME}"`,
    'type = "pv"',
    `kernel = "${lab.guestKernel}"`,
    `ramdisk = "${lab.guestRamdisk}"`,
    `extra = "console=hvc0 quiet guestname=${NAME} guestip=${IP} workms=50"`,
    'memory = 128',
    'maxmem = 256',
    'vcpus = 1',
    'maxvcpus = 2',
    `vif = [ 'bridge=${lab.bridge},mac=${MAC}' ]`,
    `disk = [ 'format=raw,vdev=xvda,access=rw,target=${disk}' ]`,
    'on_poweroff = "destroy"',
    'on_crash = "destroy"',
    '',
  ].join('\n');
}

/** CPU(%) per domain from the LAST iteration of `xentop -b` output (the first one is always 0). */
function lastXentopCpu(out: string): Map<string, number> {
  const blocks = out.split(/^\s*NAME\s+STATE\s+CPU\(sec\)\s+CPU\(%\).*$/m);
  const last = blocks[blocks.length - 1] ?? '';
  const cpu = new Map<string, number>();
  for (const line of last.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 4 && f[0] && !Number.isNaN(Number(f[3]))) cpu.set(f[0], Number(f[3]));
  }
  return cpu;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const secs = (t0: number): string => ((Date.now() - t0) / 1000).toFixed(1);

test('a domU cloned from the lab base image boots, serves HTTP, shows host-sent load in xentop, and is destroyed without leftovers', async (t) => {
  const t0 = Date.now();
  const lab = await startLab();
  t.teardown(() => lab.stop());
  t.log(`lab up in ${secs(t0)} s (boot ${lab.bootSeconds} s), ssh 127.0.0.1:${lab.port}, ${lab.fingerprint}`);

  const info = await lab.sshOk('xl info');
  const free = Number(/^free_memory\s*:\s*(\d+)/m.exec(info)?.[1]);
  t.true(free > 1000, `xl info free_memory ${free} MB`);
  t.regex(info, /^xen_version\s*:\s*4\.17\./m);
  t.regex(await lab.sshOk('xl list'), /^Domain-0\s+0\s/m);

  // clone + render + create, as the xl driver will do over SSH
  const disk = `${lab.imagesDir}/${NAME}.img`;
  const cfg = `/etc/xen/guests/${NAME}.cfg`;
  let tc = Date.now();
  await lab.sshOk(`cp --reflink=auto ${lab.baseImage} ${disk}`);
  await lab.sshOk(`mkdir -p /etc/xen/guests && cat > ${cfg}`, { input: renderCfg(lab, disk) });
  t.log(`clone + cfg ${secs(tc)} s`);
  tc = Date.now();
  await lab.sshOk(`xl create -q ${cfg}`, { timeoutMs: 180_000 });
  t.log(`xl create ${secs(tc)} s`);
  try {
    // healthy: poll /healthz from dom0 in one SSH session
    const th = Date.now();
    await lab.sshOk(
      `n=0; until printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${IP} 80 2>/dev/null | grep -q '200 OK'; do ` +
        `n=$((n+1)); [ $n -gt 600 ] && exit 1; sleep 0.5; done`,
      { timeoutMs: 400_000 },
    );
    t.log(`create to healthy ${secs(tc)} s (health polling ${secs(th)} s)`);
    const health = await lab.http(IP, '/healthz');
    t.is(health.status, 200);
    t.is(health.body, 'ok');

    // load from the host through dom0's SSH connection: 4 concurrent request loops of 300 ms each
    const fwd = await lab.forward(IP, 80);
    t.teardown(() => fwd.close());
    let loading = true;
    let ok = 0;
    const loops = Array.from({ length: 4 }, async () => {
      while (loading) {
        if ((await get(fwd.port, '/burn?ms=300').catch(() => 0)) === 200) ok++;
      }
    });
    await new Promise((r) => setTimeout(r, 3000));
    const top = await lab.sshOk('xentop -b -d 1 -i 2', { timeoutMs: 120_000 });
    const metrics = await lab.http(IP, '/metrics');
    loading = false;
    await Promise.all(loops);
    await fwd.close();
    const cpu = lastXentopCpu(top);
    t.log(`xentop CPU(%) ${JSON.stringify(Object.fromEntries(cpu))}; ${ok} requests served; /metrics ${metrics.body.trim()}`);
    t.true((cpu.get(NAME) ?? 0) > 10, `domU CPU ${cpu.get(NAME)}% in xentop's second iteration`);
    t.true(ok > 0);
    const m = JSON.parse(metrics.body) as { rps: number; requests_total: number; inflight: number; cpu_seconds: number };
    t.true(m.requests_total > 0 && m.rps > 0, `guest metrics ${metrics.body}`);
  } finally {
    const td = Date.now();
    await lab.ssh(`xl destroy ${NAME}`, { timeoutMs: 120_000 });
    t.log(`xl destroy ${secs(td)} s`);
    await lab.ssh(`n=0; while xl list | grep -q '^${NAME} '; do n=$((n+1)); [ $n -gt 120 ] && break; sleep 0.5; done; rm -f ${disk} ${cfg}`);
  }
  t.notRegex(await lab.sshOk('xl list'), new RegExp(`^${NAME}\\s`, 'm'));
  t.deepEqual((await lab.sshOk(`ls ${lab.imagesDir}`)).split('\n').filter(Boolean), ['base.img']);
  t.is((await lab.sshOk('ls /etc/xen/guests')).trim(), '');
  t.log(`total ${secs(t0)} s`);
});
