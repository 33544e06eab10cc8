// A lab VM never outlives the test process that booted it. QEMU runs daemonized (its parent is
// init), so a runner killed from outside (SIGKILL, a timeout of the calling script) runs no
// teardown; boot.sh's watchdog (scripts/xen-lab/follow-owner.sh) stops the lab when the runner
// or any of its ancestors is gone. Each case kills a real runner that has booted a real lab.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAB_TS = join(dirname(fileURLToPath(import.meta.url)), 'lab.ts');
/** The runner: boots a lab with startLab(), prints its boot log and LAB_PID=, then idles. */
const RUNNER = `
console.log('RUNNER_PID=' + process.pid);
import { startLab } from ${JSON.stringify(LAB_TS)};
const lab = await startLab({ log: (l) => console.log(l) });
console.log('LAB_PID=' + lab.pid + ' LAB_RUN_DIR=' + lab.runDir);
setInterval(() => {}, 1 << 30);
`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Resolves with the first match of `re` in the child's stdout. */
function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${buf.slice(-3000)}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`runner exited (${code}) before ${re}:\n${buf.slice(-3000)}`)));
  });
}

/** Seconds until `pid` is gone, or undefined if it still runs after `limitS`. */
async function secondsUntilGone(pid: number, limitS: number): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitS * 1000) {
    if (!alive(pid)) return (Date.now() - t0) / 1000;
    await sleep(100);
  }
  return undefined;
}

function killHard(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

test.serial('a runner SIGKILLed right after booting the lab leaves no QEMU behind', async (t) => {
  const runner = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', RUNNER], { stdio: ['ignore', 'pipe', 'inherit'] });
  let qemu: number | undefined;
  t.teardown(() => {
    killHard(runner.pid);
    killHard(qemu);
  });
  const m = await waitForLine(runner, /LAB_PID=(\d+) LAB_RUN_DIR=(\S+)/, 8 * 60_000);
  qemu = Number(m[1]);
  t.true(alive(qemu), 'the lab runs while its runner does');
  runner.kill('SIGKILL');
  const gone = await secondsUntilGone(qemu, 15);
  t.log(`QEMU stopped ${gone?.toFixed(1)} s after its runner was SIGKILLed`);
  t.not(gone, undefined, `QEMU ${qemu} still runs 15 s after its runner was killed`);
  // stop.sh removes the run dir once QEMU has exited.
  for (let i = 0; i < 50 && existsSync(m[2]!); i++) await sleep(100);
  t.false(existsSync(m[2]!), 'the lab\'s run dir is removed');
});

test.serial('a lab booting when the script that called its runner is killed stops too', async (t) => {
  // bash plays the calling script (npm, a CI timeout's child); the runner under it lives on
  // as an orphan, as it would when only the script is killed.
  const script = spawn('bash', ['-c', `"${process.execPath}" --import=tsx --input-type=module -e "$RUNNER" & wait`], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUNNER },
  });
  let qemu: number | undefined;
  let orphan: number | undefined;
  t.teardown(() => {
    killHard(script.pid);
    killHard(orphan);
    killHard(qemu);
  });
  orphan = Number((await waitForLine(script, /RUNNER_PID=(\d+)/, 60_000))[1]);
  // boot.sh logs "qemu pid N" as soon as QEMU has started, long before dom0 is up.
  const m = await waitForLine(script, /qemu pid (\d+)/, 8 * 60_000);
  qemu = Number(m[1]);
  t.true(alive(qemu));
  script.kill('SIGKILL');
  const gone = await secondsUntilGone(qemu, 15);
  t.log(`QEMU stopped ${gone?.toFixed(1)} s after the calling script was SIGKILLed`);
  t.not(gone, undefined, `QEMU ${qemu} still runs 15 s after the calling script was killed`);
  t.true(alive(orphan), 'the runner itself still runs: the lab followed its ancestor');
});
