import test from 'ava';
import { promqlStringBody, renderQuery, unknownPlaceholders } from './promql-template.ts';

test('{{pool}} is replaced everywhere it appears, spaces inside the braces allowed', (t) => {
  t.is(renderQuery('sum(rate(x{pool="{{pool}}"}[1m])) / count(up{pool="{{ pool }}"})', 'web'), 'sum(rate(x{pool="web"}[1m])) / count(up{pool="web"})');
});

test('the pool name cannot end the string literal it is put in', (t) => {
  t.is(promqlStringBody('a"b\'c`d\\e\nf'), 'a\\"b\\\'c\\`d\\\\e\\nf');
  t.is(renderQuery('x{pool="{{pool}}"}', 'web"} or vector(1) #'), 'x{pool="web\\"} or vector(1) #"}');
});

test('a replacement pattern in the pool name is inserted literally', (t) => {
  t.is(renderQuery('x{pool="{{pool}}"}', '$&$1'), 'x{pool="$&$1"}');
});

test('placeholders other than {{pool}} are reported', (t) => {
  t.deepEqual(unknownPlaceholders('x{a="{{pool}}",b="{{guest}}",c="{{ }}"}'), ['{{guest}}', '{{ }}']);
  t.deepEqual(unknownPlaceholders('sum(x) by (pool)'), []);
});
