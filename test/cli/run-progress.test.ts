// `gridhost run` on a real terminal (a pseudo-terminal made by util-linux `script`): while a guest
// is launched it shows a live progress line for it (cloning, booting, waiting for health, joining
// the balancer) below plain, human-readable log lines. (Off a terminal the log is JSON lines only:
// test/deploy/systemd-unit.test.ts.)
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, freePort, killGuests, waitUntil, workspace } from '../e2e/harness.ts';

// A guest that takes a moment to start serving, so every phase is on screen for a while.
const SLOW = 'command: sh\nargs: ["-c", "sleep 1 && exec node server.mjs"]\nenv:\n  PORT: "{{port}}"\n  GUEST_ID: "{{guest}}"\n';

function policy(lbPort: number): string {
  return `pool: tty\nmin: 1\nmax: 2\nguest:\n  template: slow.local.yaml\n  image: images/web\n  boot_timeout: 30s\nbalancer:\n  listen: 127.0.0.1:${lbPort}\nsampling:\n  interval: 500ms\n  window: 10s\nrules:\n  - {name: cpu, strategy: target-tracking, metric: cpu, target: 75}\n`;
}

/** Children of a process (from /proc), to reach gridhost below `script`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The gridhost process below `script`: a shell may sit between them (`script -c` runs $SHELL -c),
 * and signalling the shell would hang up the terminal instead of stopping gridhost. */
function gridhostBelow(pid: number): number | undefined {
  for (const child of childrenOf(pid)) {
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8'); } catch { continue; }
    if (cmdline.includes('gridhost.js')  && !/^[^\0]*sh\0-c/.test(cmdline)) return child;
    const below = gridhostBelow(child);
    if (below !== undefined) return below;
  }
  return undefined;
}

test('on a terminal, run shows a progress line per launching guest and plain log lines', async (t) => {
  const dir = workspace({ policies: { 'tty.yaml': policy(await freePort()) }, templates: { 'slow.local.yaml': SLOW } });
  const apiPort = await freePort();
  const env = {
    ...process.env, TERM: 'xterm', COLUMNS: '120',
    GRIDHOST_API_LISTEN: `127.0.0.1:${apiPort}`, GRIDHOST_POLICIES_DIR: join(dir, 'policies'), GRIDHOST_TEMPLATES_DIR: join(dir, 'templates'),
    GRIDHOST_DATA_DIR: join(dir, 'data'), GRIDHOST_LOG_FORMAT: 'auto', GRIDHOST_LOG_LEVEL: 'info',
  };
  const cmd = `${process.execPath} ${join(REPO, 'bin', 'gridhost.js')} run`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the last lines may still be in the pipe when the process has exited.
  const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  t.teardown(async () => {
    const pid = gridhostBelow(child.pid!);
    if (pid !== undefined) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    killGuests(join(dir, 'data', 'guests'));
  });

  await waitUntil(() => /in the balancer after \d+\.\ds/.test(out), 60_000, `the launch to finish; output so far:\n${out}`);
  // Progress lines: guest id, a bar, the phase; the terminal redraws them (ESC[nA, ESC[J).
  for (const phase of ['cloning', 'booting', 'waiting for health']) {
    t.regex(out, new RegExp(`tty-[0-9a-f]+ {2}\\[[#·]+\\] {2}${phase} {2}\\d+s`), phase);
  }
  t.regex(out, /\x1b\[\d+A\x1b\[J/, 'the block is redrawn in place');
  t.regex(out, /(^|\x1b\[J)tty-[0-9a-f]+: in the balancer after \d+\.\ds/m);
  // Plain log lines, not JSON.
  t.regex(out, /Z\s+\S*info\S*\s+gridhost ready/);
  t.notRegex(out, /^\{"timestamp"/m);

  const gridhost = gridhostBelow(child.pid!);
  t.truthy(gridhost, 'the gridhost process runs below script');
  process.kill(gridhost!, 'SIGTERM');
  await exited;
  t.regex(out, /gridhost stopping/);
  t.regex(out, /gridhost stopped/);
});
