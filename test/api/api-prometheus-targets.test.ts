// GET /api/prometheus/targets: Prometheus http_sd of the serving guests, labelled pool and
// guest, scraped on their policy's metrics_path (an unmanaged pool's guests keep Prometheus's default).
import test from 'ava';
import { TOKEN, rig } from './rig.ts';

test('every serving guest is one target group with its pool, id, host and metrics path; others are left out', async (t) => {
  const r = await rig(t, TOKEN);
  const web = await r.store.listGuests({ pool: 'web', states: ['healthy'] });
  t.true(web.length >= 2);
  // A guest on its way out is not scraped any more.
  await r.store.saveGuest({ ...web[0]!, state: 'stopping' });
  const res = await r.call('/api/prometheus/targets');
  t.is(res.status, 200);
  t.regex(res.type, /application\/json/);
  const want = [
    { targets: ['127.0.0.1:19999'], labels: { pool: 'old', guest: 'old-1', host: 'localhost' } },
    ...web.slice(1).sort((a, b) => (a.id < b.id ? -1 : 1)).map((g) => ({ targets: [g.address!], labels: { pool: 'web', guest: g.id, ...(g.host ? { host: g.host } : {}), __metrics_path__: '/metrics' } })),
  ];
  t.deepEqual(res.body, want);
  const bad = await r.call('/api/prometheus/targets?x=1');
  t.is(bad.status, 400);
  const post = await fetch(`${r.base}/api/prometheus/targets`, { method: 'POST' });
  t.is(post.status, 405);
});
