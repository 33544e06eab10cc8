// GET /api/pools/:pool/guests/:guest: one guest with its history (steps and hooks, with outcome
// and duration), times in ISO 8601; unknown pools and guests are 404, malformed ids 400.
import test from 'ava';
import { TOKEN, rig } from './rig.ts';

test('a guest is shown with its history, every time in ISO 8601', async (t) => {
  const r = await rig(t, TOKEN);
  const [g] = await r.store.listGuests({ pool: 'web' });
  await r.store.saveGuest({
    ...g!,
    history: [
      { at: g!.createdAt, action: 'clone', outcome: 'ok', durationMs: 120 },
      { at: g!.createdAt + 5000, action: 'before_register', outcome: 'continued', durationMs: 3000, detail: 'command: exit 3', code: 'GH_HOOK_FAILED' },
    ],
  });
  const res = await r.call(`/api/pools/web/guests/${g!.id}`);
  t.is(res.status, 200);
  t.like(res.body, { id: g!.id, pool: 'web', state: 'healthy', createdAt: new Date(g!.createdAt).toISOString() });
  t.deepEqual(res.body.history, [
    { at: new Date(g!.createdAt).toISOString(), action: 'clone', outcome: 'ok', durationMs: 120 },
    { at: new Date(g!.createdAt + 5000).toISOString(), action: 'before_register', outcome: 'continued', durationMs: 3000, detail: 'command: exit 3', code: 'GH_HOOK_FAILED' },
  ]);
});

test('an unknown pool or a guest of another pool is 404; a malformed guest id is 400', async (t) => {
  const r = await rig(t, TOKEN);
  const [g] = await r.store.listGuests({ pool: 'web' });
  const cases: [string, number, string][] = [
    [`/api/pools/nope/guests/${g!.id}`, 404, 'no pool named nope'],
    ['/api/pools/web/guests/web-00000000', 404, 'pool web has no guest web-00000000'],
    ['/api/pools/old/guests/' + g!.id, 404, `pool old has no guest ${g!.id}`],
    ['/api/pools/web/guests/Web..%2F', 400, 'invalid guest id: must be like web-3f2a9c1d (lower-case letters, digits and "-")'],
  ];
  for (const [path, status, message] of cases) {
    const res = await r.call(path);
    t.is(res.status, status, path);
    t.is(res.body.error.message, message, path);
  }
  const post = await fetch(`${r.base}/api/pools/web/guests/${g!.id}`, { method: 'POST' });
  t.is(post.status, 405);
  t.is(post.headers.get('allow'), 'GET, HEAD');
});
