// Proves the lab's routed topology (startLab({ netns })): the guests' bridge in dom0 is joined,
// through a second QEMU NIC on a tap device, to a network namespace this test owns. A process in
// that namespace reaches a domU's HTTP service and dom0's sshd directly, with no SSH hop on the
// data path, as HAProxy on a machine routed to the guests' network would. stop() removes the
// namespace with the lab.
import test from 'ava';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLab, type Lab } from './lab.ts';

const run = promisify(execFile);
const NAME = 'labrouted1';
const IP = '192.168.100.31';
const MAC = '00:16:3e:00:00:31';

function renderCfg(lab: Lab, disk: string): string {
  return [
    `name = "${NAME}"`, 'type = "pv"', `kernel = "${lab.guestKernel}"`, `ramdisk = "${lab.guestRamdisk}"`,
    `extra = "console=hvc0 quiet guestname=${NAME} guestip=${IP} workms=5"`,
    'memory = 128', 'vcpus = 1', `vif = [ 'bridge=${lab.bridge},mac=${MAC}' ]`,
    `disk = [ 'format=raw,vdev=xvda,access=rw,target=${disk}' ]`, 'on_poweroff = "destroy"', '',
  ].join('\n');
}

const inNs = (ns: string, argv: string[], timeoutMs = 30_000) => run('ip', ['netns', 'exec', ns, ...argv], { timeout: timeoutMs });

test('a namespace joined to the guests\' bridge reaches a domU and dom0\'s sshd directly', async (t) => {
  const ns = `ghlab-${process.pid}`;
  const lab = await startLab({ netns: ns });
  t.teardown(() => lab.stop());
  t.truthy(lab.routed, 'lab.env describes the namespace side');
  t.is(lab.routed!.netns, ns);

  // dom0 answers on its guest-network address from inside the namespace, with its pinned key.
  const knownHosts = join(lab.runDir, 'known_hosts.routed');
  writeFileSync(knownHosts, `${lab.routed!.dom0Address} ${lab.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
  const xl = await inNs(ns, ['ssh', '-q', '-i', lab.privateKeyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${lab.routed!.dom0Address}`, 'xl list'], 60_000);
  t.regex(xl.stdout, /^Domain-0\s+0\s/m);

  const disk = `${lab.imagesDir}/${NAME}.img`;
  const cfg = `/etc/xen/guests/${NAME}.cfg`;
  await lab.sshOk(`cp ${lab.baseImage} ${disk} && mkdir -p /etc/xen/guests && cat > ${cfg}`, { input: renderCfg(lab, disk) });
  await lab.sshOk(`xl create -q ${cfg}`, { timeoutMs: 300_000 });
  t.teardown(async () => {
    await lab.ssh(`xl destroy ${NAME}; rm -f ${disk} ${cfg}`, { timeoutMs: 120_000 });
  });
  // Healthy as seen from the namespace itself (curl from Debian's package, run in the namespace).
  const t0 = Date.now();
  let body = '';
  while (Date.now() - t0 < 400_000) {
    body = await inNs(ns, ['curl', '-s', '-m', '5', `http://${IP}/healthz`]).then((r) => r.stdout, () => '');
    if (body === 'ok') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  t.is(body, 'ok', 'the domU\'s /healthz answers the namespace directly');
  t.log(`domU healthy from the namespace ${((Date.now() - t0) / 1000).toFixed(1)} s after xl create returned`);
  let ok = 0;
  const tr = Date.now();
  for (let i = 0; i < 20; i++) if ((await inNs(ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${IP}/`]).then((r) => r.stdout, () => '')) === '200') ok++;
  t.is(ok, 20, 'every request served over the routed path');
  t.log(`20 sequential requests in ${((Date.now() - tr) / 1000).toFixed(1)} s (each a curl process in the namespace)`);
});
