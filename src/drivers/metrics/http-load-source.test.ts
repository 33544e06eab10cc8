import test from 'ava';
import { parseMetricsBody } from './http-load-source.ts';

for (const [title, body, type, expected] of [
  ['a JSON object keeps its top-level finite numbers', '{"rps": 12.5, "inflight": 3, "name": "x", "nested": {"a": 1}, "ok": true}', 'application/json', { rps: 12.5, inflight: 3 }],
  ['JSON is recognised without a content type', ' {"rps": 0}', '', { rps: 0 }],
  ['a JSON array is rejected', '[1,2]', 'application/json', undefined],
  ['broken JSON is rejected', '{"rps": ', 'application/json', undefined],
  ['a JSON object without numbers is nothing', '{"a": "b"}', 'application/json', undefined],
  [
    'Prometheus text keeps unlabelled samples and skips comments and labels',
    '# HELP rps requests per second\n# TYPE rps gauge\nrps 41.5\ninflight 2 1700000000000\nhttp_requests_total{code="200"} 99\nprocess_cpu_seconds_total 1.5e2\n',
    'text/plain; version=0.0.4',
    { rps: 41.5, inflight: 2, process_cpu_seconds_total: 150 },
  ],
  ['Prometheus NaN and +Inf are skipped', 'a NaN\nb +Inf\nc 1', 'text/plain', { c: 1 }],
  ['an empty body is nothing', '', 'text/plain', undefined],
] as const) {
  test(`parseMetricsBody: ${title}`, (t) => {
    t.deepEqual(parseMetricsBody(body, type), expected);
  });
}
