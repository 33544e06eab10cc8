import test from 'ava';
import { availableMetrics, describeAvailable, METRIC_SOURCE_NAMES, RESERVED_GUEST_METRICS, sampleKeyOf, sourceOf } from './metric-catalogue.ts';

const local = { driver: 'local', guestMetrics: ['rps', 'inflight'] };
const xen = { driver: 'xen', guestMetrics: ['rps'] };

test('sources are listed in precedence order: hypervisor, then guest', (t) => {
  t.deepEqual(METRIC_SOURCE_NAMES.slice(0, 2), ['hypervisor', 'guest']);
});

test('a metric resolves to the first source that provides it for the pool', (t) => {
  t.is(sourceOf('cpu', local), 'hypervisor');
  t.is(sourceOf('rps', local), 'guest');
  t.is(sourceOf('memory_mb', xen), 'hypervisor');
  t.is(sourceOf('memory_mb', local), undefined);
  t.is(sourceOf('latency_p99', local), undefined);
});

test('what a pool can use depends on its driver and its declared guest metrics', (t) => {
  t.deepEqual(availableMetrics(xen).map((s) => [s.source, s.metrics.map((m) => m.name)]), [['hypervisor', ['cpu', 'memory_mb', 'vcpus']], ['guest', ['rps']], ['balancer', ['rps', 'inflight', 'queue_ms', 'latency_p95_ms', 'http_5xx_ratio']]]);
  t.is(describeAvailable(local), 'cpu (hypervisor); rps, inflight (guest); rps, inflight, queue_ms, latency_p95_ms, http_5xx_ratio (source: balancer)');
  t.is(describeAvailable({ driver: 'other', guestMetrics: [] }), 'rps, inflight, queue_ms, latency_p95_ms, http_5xx_ratio (source: balancer)');
});

test('hypervisor and guest values are read under the bare metric name', (t) => {
  t.is(sampleKeyOf({ metric: 'cpu', source: 'hypervisor' }), 'cpu');
  t.is(sampleKeyOf({ metric: 'rps', source: 'guest' }), 'rps');
  t.is(sampleKeyOf({ metric: 'rps' }), 'rps');
});

test('every hypervisor metric name is reserved from guests (they share the bare sample key)', (t) => {
  t.deepEqual([...RESERVED_GUEST_METRICS].sort(), ['cpu', 'memory_mb', 'vcpus']);
});

test('the balancer\'s values are read under balancer:<metric>, and only by rules that name the source', (t) => {
  t.is(sampleKeyOf({ metric: 'inflight', source: 'balancer' }), 'balancer:inflight');
  t.is(sourceOf('inflight', local), 'guest');
  t.is(sourceOf('queue_ms', local), undefined, 'a metric only the balancer measures still needs source: balancer');
});
