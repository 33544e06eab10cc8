// The example systemd unit (deploy/systemd/gridhost.service): systemd's own checker accepts it,
// and gridhost run the way the unit runs it (as an unprivileged user, the unit's environment,
// stopped with the unit's KillSignal while a launch is in progress) finishes the launch, exits 0
// and writes only JSON lines.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, freePort, guestRecords, killGuests, killProcessesUnder, waitUntil, workspace } from '../e2e/harness.ts';

const UNIT = join(REPO, 'deploy', 'systemd', 'gridhost.service');
const NOBODY = 65534;

/** `Key=value` lines of the unit's [Service] section (repeated keys in order). */
function serviceSection(): [string, string][] {
  const out: [string, string][] = [];
  let section = '';
  for (const raw of readFileSync(UNIT, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'Service' && eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}
const one = (key: string) => serviceSection().filter(([k]) => k === key).map(([, v]) => v).at(-1);

test('systemd-analyze verify accepts the unit without a word', (t) => {
  // verify looks the unit up by file name; a copy in a temp dir keeps the checkout out of it.
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(UNIT, join(dir, 'gridhost.service'));
  const r = spawnSync('systemd-analyze', ['verify', join(dir, 'gridhost.service')], { encoding: 'utf8' });
  t.is(r.error, undefined, 'systemd-analyze runs (scripts/ensure-packages.sh installs systemd)');
  t.is(`${r.stdout}${r.stderr}`, '');
  t.is(r.status, 0);
});

test('the unit runs gridhost as a non-root user, restarts on failure, stops with SIGTERM without killing guests, logs JSON', (t) => {
  t.not(one('User'), undefined);
  t.not(one('User'), 'root');
  t.is(one('Restart'), 'on-failure');
  t.is(one('KillSignal'), 'SIGTERM');
  t.is(one('KillMode'), 'process');
  t.is(one('StandardOutput'), 'journal');
  t.true(serviceSection().some(([k, v]) => k === 'Environment' && v === 'GRIDHOST_LOG_FORMAT=json'));
  t.regex(one('ExecStart') ?? '', /bin\/gridhost\.js run$/);
});

function unitEnv(dir: string): Record<string, string> {
  // The unit's Environment= lines, with its absolute directories moved into the test's workspace.
  const env: Record<string, string> = {};
  for (const [k, v] of serviceSection()) {
    if (k !== 'Environment') continue;
    const eq = v.indexOf('=');
    env[v.slice(0, eq)] = v.slice(eq + 1).replace('/etc/gridhost/gridhost.yaml', join(dir, 'gridhost.yaml'))
      .replace('/etc/gridhost', dir).replace('/var/lib/gridhost', join(dir, 'data'));
  }
  return env;
}

test('run as the unit runs it, SIGTERM during a launch waits for the launch, exits 0, and every line is JSON', async (t) => {
  const lbPort = await freePort();
  const apiPort = await freePort();
  const dir = workspace({
    policies: {
      'svc.yaml': `pool: svc\nmin: 1\nmax: 2\nguest:\n  template: slow.local.yaml\n  image: images/web\n  boot_timeout: 30s\nbalancer:\n  listen: 127.0.0.1:${lbPort}\nsampling:\n  interval: 500ms\n  window: 10s\nrules:\n  - {name: cpu, strategy: target-tracking, metric: cpu, target: 75}\n`,
    },
    // A guest that takes 3 s to start serving, so SIGTERM lands while its launch is in progress.
    templates: { 'slow.local.yaml': 'command: sh\nargs: ["-c", "sleep 3 && exec node server.mjs"]\nenv:\n  PORT: "{{port}}"\n  GUEST_ID: "{{guest}}"\n' },
    config: `api:\n  listen: 127.0.0.1:${apiPort}\n`,
  });
  t.teardown(() => {
    killGuests(join(dir, 'data', 'guests'));
    killProcessesUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  const chownTree = (p: string) => {
    chownSync(p, NOBODY, NOBODY);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(join(p, e));
  };
  chownTree(dir);

  // As systemd does for User=: the process itself runs as that user (uid and gid), no shell between.
  const child = spawn(process.execPath, [join(REPO, 'bin', 'gridhost.js'), 'run'], {
    cwd: dir,
    uid: NOBODY,
    gid: NOBODY,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...unitEnv(dir) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const lines = () => out.split('\n').filter((l) => l !== '');
  const parsed = () => lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  // The guest has been cloned and is booting; it is not healthy yet.
  await waitUntil(() => parsed().some((l) => l.event === 'guest' && l.action === 'clone' && l.to === 'booting'), 60_000, `a guest booting (stderr: ${err})`);
  t.false(parsed().some((l) => l.event === 'guest' && l.to === 'healthy'), 'the launch is still in progress');
  child.kill('SIGTERM');
  const code = await exited;
  t.is(code, 0, err);

  const logs = parsed(); // throws on any line that is not JSON
  const stopping = logs.findIndex((l) => String(l.msg).startsWith('gridhost stopping'));
  const healthy = logs.findIndex((l) => l.event === 'guest' && l.to === 'healthy');
  t.true(stopping >= 0);
  t.true(healthy > stopping, 'the launch in progress finished after SIGTERM');
  t.is(logs.at(-1)!.msg, 'gridhost stopped');
  // The guest runs as the unit's unprivileged user and keeps running after gridhost stopped.
  const [rec] = guestRecords(dir, 'svc');
  t.truthy(rec);
  const status = readFileSync(`/proc/${rec!.pid}/status`, 'utf8');
  t.regex(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
});
