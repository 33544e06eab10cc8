// Fuzzing the API over raw TCP (so nothing between the test and the server tidies a request
// up): a few thousand malformed requests, seeded so a failure can be replayed. None may get a
// 5xx, every refusal is the API's JSON error, nothing reaches the log above debug, and the API
// still answers afterwards.
import test from 'ava';
import { connect } from 'node:net';
import { TOKEN, rig } from './rig.ts';
import { mulberry32 as prng } from '../../src/simulator/synthetic.ts';

interface Reply { status: number; headers: string; body: string }

/** Send `raw` on a fresh connection and read until the server closes it. */
function send(port: number, raw: Buffer | string): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n/.exec(text);
      if (!m) return resolve(undefined);
      const split = text.indexOf('\r\n\r\n');
      const headers = split < 0 ? text : text.slice(0, split);
      // Only the first response: bytes left after a request (a short Content-Length, a broken
      // chunk) are read by the server as a next request and answered after it.
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
      const rest = split < 0 ? '' : text.slice(split + 4);
      resolve({ status: Number(m[1]), headers, body: length ? rest.slice(0, Number(length[1])) : rest });
    });
    sock.end(raw);
  });
}

function cases(seed: number, n: number): { raw: Buffer; what: string }[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const hex = '0123456789abcdefABCDEF';
  const junk = 'zZgG%/.;:@!$&\'()*+,=~-_?#[]{}|\\^`"<> ';
  const pct = () => `%${pick([...hex, ...junk])}${pick([...hex, ...junk])}`;
  const byte = () => `%${int(0, 255).toString(16).padStart(2, '0').toUpperCase()}`;
  const segment = (): string => {
    switch (int(0, 9)) {
      case 0: return pick(['api', 'pools', 'events', 'retire', 'web', 'old', 'healthz', 'metrics', 'nosuch']);
      case 1: return pct();
      case 2: return '%';
      case 3: return Array.from({ length: int(1, 6) }, byte).join('');
      case 4: return pick(['..', '.', '', '%2e%2e', '%2F', '%00', '%0A', '%0D%0A', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%E0%A4%A']);
      case 5: return encodeURIComponent(String.fromCodePoint(int(0x80, 0x10ffff) & ~0xd800));
      case 6: return 'a'.repeat(int(1, 3000));
      case 7: return Array.from({ length: int(1, 8) }, () => pick([...'abcxyz019-_', ...hex])).join('');
      case 8: return pick(['web', 'old', 'Web', 'a'.repeat(33), '-x', 'x-']);
      default: return pick(['api/pools', 'api/events', 'api/pools/web', 'api/pools/old/retire']);
    }
  };
  const query = (): string => {
    if (rnd() < 0.4) return '';
    const params = Array.from({ length: int(1, 4) }, () => {
      const k = pick(['pool', 'limit', 'x', '', 'pool[]', '__proto__', 'constructor', 'limit[a]', pct(), '%', 'hasOwnProperty']);
      const v = pick(['web', 'old', 'nosuch', '', '0', '-1', '1e3', '1000', '1001', '5', pct(), '%', '%zz', 'a'.repeat(int(1, 2000)), byte() + byte()]);
      return rnd() < 0.1 ? k : `${k}=${v}`;
    });
    return `?${params.join(pick(['&', '&&', ';']))}`;
  };
  const out: { raw: Buffer; what: string }[] = [];
  for (let i = 0; i < n; i++) {
    const method = pick(['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO', 'get', 'PROPFIND']);
    let target = `/${Array.from({ length: int(1, 5) }, segment).join('/')}${query()}`;
    if (rnd() < 0.05) target = pick(['*', 'http://127.0.0.1/api/pools', '//api//pools', '/api/pools/web#frag', target.replace(/\//g, '\\')]);
    const headers: string[] = ['Host: 127.0.0.1'];
    if (rnd() < 0.5) headers.push(`Authorization: ${pick([`Bearer ${TOKEN}`, 'Bearer', 'Bearer x', `Basic ${TOKEN}`, 'Bearer  ' + 'x'.repeat(int(1, 5000)), TOKEN])}`);
    let body = '';
    if (rnd() < 0.3) {
      body = pick(['{', '{"pool":"web"}', 'null', '\u0000\u0001', 'x'.repeat(int(1, 10_000)), '[]']);
      headers.push(`Content-Type: ${pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', '%%%'])}`);
      if (rnd() < 0.7) headers.push(`Content-Length: ${pick([Buffer.byteLength(body), 0, Buffer.byteLength(body) + 5])}`);
      else headers.push('Transfer-Encoding: chunked'), (body = pick([`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, 'zz\r\nbroken\r\n', '5\r\nab']));
    }
    if (rnd() < 0.05) headers.push(`X-Big: ${'b'.repeat(int(10_000, 40_000))}`);
    if (rnd() < 0.05) headers.push(pick(['Bad Header: x', 'X-Ctl: a\u0001b', ': empty', 'Content-Length: -1', 'Content-Length: 1, 2']));
    headers.push('Connection: close');
    out.push({ raw: Buffer.from(`${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`, 'latin1'), what: `${method} ${target.slice(0, 120)}` });
  }
  // Requests the HTTP parser itself refuses.
  const broken = ['GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', '\r\n\r\n', 'GET /api/pools HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 'GET /a b c HTTP/1.1\r\n\r\n', 'GET /\u0000 HTTP/1.1\r\n\r\n'];
  for (let i = 0; i < n / 6; i++) {
    const raw = rnd() < 0.5 ? pick(broken) : Buffer.from(Array.from({ length: int(1, 200) }, () => int(0, 255))).toString('latin1');
    out.push({ raw: Buffer.from(raw, 'latin1'), what: `raw ${JSON.stringify(raw.slice(0, 40))}` });
  }
  return out;
}

test('thousands of malformed requests: no 5xx, every refusal is a JSON error, nothing logged above debug', async (t) => {
  const r = await rig(t, TOKEN);
  const port = Number(new URL(r.base).port);
  const all = cases(20261127, 3000);
  const byStatus = new Map<number, number>();
  let noReply = 0;
  const problems: string[] = [];
  for (let i = 0; i < all.length; i += 25) {
    await Promise.all(all.slice(i, i + 25).map(async (c) => {
      const reply = await send(port, c.raw);
      if (!reply) return void noReply++;
      byStatus.set(reply.status, (byStatus.get(reply.status) ?? 0) + 1);
      if (reply.status >= 500) problems.push(`${reply.status} for ${c.what}: ${reply.body.slice(0, 200)}`);
      if (reply.status >= 400 && !c.what.startsWith('HEAD ')) {
        try {
          const body = JSON.parse(reply.body) as { error?: { code?: string; message?: string } };
          if (!/^GH_[A-Z_]+$/.test(body.error?.code ?? '') || typeof body.error?.message !== 'string') problems.push(`not an API error for ${c.what}: ${reply.body.slice(0, 200)}`);
        } catch {
          problems.push(`${reply.status} without a JSON body for ${c.what}: ${reply.body.slice(0, 120)}`);
        }
      }
    }));
  }
  t.log(`${all.length} requests: ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s} x${n}`).join(', ')}; no reply ${noReply}`);
  t.deepEqual(problems.slice(0, 20), []);
  // The parser may drop a connection whose bytes are not HTTP at all; it answers everything else.
  t.true(noReply < all.length / 10, `${noReply} requests got no reply`);
  t.true((byStatus.get(400) ?? 0) > 500, 'the cases reach the API\'s own checks');
  t.deepEqual(r.logLines().filter((l) => l.level === 'error' || l.level === 'warn').map((l) => l.msg), []);
  const after = await r.call('/api/pools/web');
  t.is(after.status, 200);
  t.is(after.body.guests.length, 4);
});
