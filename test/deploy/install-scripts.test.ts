// A fresh `npm ci` is quiet about install scripts: every installed package that has one is
// declared in package.json's allowScripts (npm 11 warns "N packages have install scripts not
// yet covered by allowScripts" otherwise), and nothing is declared that is not installed.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const REPO = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

async function npmJson(args: string[]): Promise<unknown> {
  const { stdout } = await run('npm', [...args, '--json'], { cwd: REPO, timeout: 60_000 });
  return JSON.parse(stdout) as unknown;
}

test('every installed package with an install script is declared in allowScripts', async (t) => {
  t.timeout(90_000);
  t.deepEqual(await npmJson(['install-scripts', 'list']), { allowScripts: [] }, 'packages whose install scripts npm would warn about');
});

test('allowScripts names only installed packages that have install scripts', async (t) => {
  t.timeout(90_000);
  const declared = Object.keys((JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {});
  t.true(declared.length > 0);
  const lock = JSON.parse(readFileSync(`${REPO}package-lock.json`, 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
  const withScripts = new Set(Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)));
  t.deepEqual(declared.sort(), [...withScripts].sort());
});
