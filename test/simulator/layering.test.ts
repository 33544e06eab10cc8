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
