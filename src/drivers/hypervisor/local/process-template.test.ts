import test from 'ava';
import { GridhostError } from '../../../errors/errors.ts';
import { renderProcessTemplate, validateProcessTemplate } from './process-template.ts';

const FILE = '/t/web.local.yaml';

test('a valid template keeps command, args and env; args and env default to empty', (t) => {
  t.deepEqual(validateProcessTemplate({ command: 'node', args: ['a.mjs'], env: { PORT: '{{port}}', N: 15 } }, FILE), {
    command: 'node',
    args: ['a.mjs'],
    env: { PORT: '{{port}}', N: '15' },
  });
  t.deepEqual(validateProcessTemplate({ command: './run' }, FILE), { command: './run', args: [], env: {} });
});

for (const [title, doc, why] of [
  ['a list instead of a mapping', ['node'], /must be a mapping/],
  ['a missing command', { args: [] }, /command must be a non-empty string/],
  ['an empty command', { command: ' ' }, /command must be a non-empty string/],
  ['a string for args', { command: 'node', args: 'server.mjs' }, /args must be a list of strings/],
  ['a number among args', { command: 'node', args: ['-p', 80] }, /args must be a list of strings/],
  ['a list for env', { command: 'node', env: ['A=1'] }, /env must be a mapping/],
  ['an object env value', { command: 'node', env: { A: { b: 1 } } }, /env\.A must be a string/],
  ['a bad env name', { command: 'node', env: { 'A-B': 'x' } }, /not a valid variable name/],
  ['an unknown key', { command: 'node', shell: true }, /unknown key\(s\) shell/],
  ['an unknown placeholder', { command: 'node', env: { T: '{{token}}' } }, /unknown placeholder \{\{token\}\}/],
] as const) {
  test(`a template with ${title} is GH_TEMPLATE_INVALID naming the file`, (t) => {
    const e = t.throws(() => validateProcessTemplate(doc, FILE), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_TEMPLATE_INVALID');
    t.true(e?.message.startsWith(`${FILE}: `));
    t.regex(e?.message ?? '', why);
  });
}

test('placeholders are substituted into command, args and env values only as text', (t) => {
  const tpl = validateProcessTemplate({ command: '{{dir}}/bin/app', args: ['--port={{port}}', '{{ guest }}', '$(rm -rf /)'], env: { POOL: '{{pool}}', G: '{{guest}}-{{guest}}' } }, FILE);
  t.deepEqual(renderProcessTemplate(tpl, { port: '4100', guest: 'web-1', pool: 'web', dir: '/g/web/web-1' }), {
    command: '/g/web/web-1/bin/app',
    args: ['--port=4100', 'web-1', '$(rm -rf /)'],
    env: { POOL: 'web', G: 'web-1-web-1' },
  });
});
