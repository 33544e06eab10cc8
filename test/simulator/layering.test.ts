// The simulator predicts the controller by running the same pure core, never by importing the
// controller (whose shell does I/O and reads clocks).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'simulator');

function sources(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(d, e.name)) : e.name.endsWith('.ts') ? [path.join(d, e.name)] : []));
}

test('no simulator module imports from the controller', (t) => {
  const files = sources(dir);
  t.true(files.length > 5);
  const offenders = files.filter((f) => /from\s+['"][^'"]*\/controller\//.test(readFileSync(f, 'utf8')));
  t.deepEqual(offenders.map((f) => path.relative(dir, f)), []);
});

/** Modules `file` loads at run time, transitively (type-only imports are erased and not followed). */
function runtimeImports(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const deps = [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)[^'";]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  seen.set(file, deps);
  for (const d of deps) if (d.startsWith('.')) runtimeImports(path.resolve(path.dirname(file), d), seen);
  return seen;
}

/** What only a driver implementation (or the shell) loads: sockets, processes, stores, HTTP. */
const IO_MODULES = ['node:net', 'node:http', 'node:https', 'node:child_process', 'node:dgram', 'ssh2', 'mongoose', 'better-sqlite3', 'axios', 'express'];

for (const entry of ['policy/parse-policy.ts', 'config/load-config.ts']) {
  test(`${entry} loads no driver implementation: only the drivers' keys modules, nothing that opens a socket, process or store`, (t) => {
    const graph = runtimeImports(path.resolve(dir, '..', entry));
    t.true([...graph.keys()].some((f) => f.includes(`${path.sep}drivers${path.sep}`)), 'it asks the drivers\' registries');
    const offenders = [...graph].flatMap(([f, deps]) => deps.filter((d) => IO_MODULES.includes(d)).map((d) => `${path.relative(path.resolve(dir, '..'), f)} -> ${d}`));
    t.deepEqual(offenders, []);
  });
}
