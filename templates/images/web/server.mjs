// Example guest: a plain-Node HTTP service (no dependencies) whose every request burns real
// CPU, so the autoscaler has something to measure. Run from its clone directory.
//   /healthz  200 "ok" (503 while shutting down or when a file `unhealthy` exists in the cwd)
//   /metrics  JSON {rps, inflight, requests_total, cpu_seconds}; with ?format=prometheus the same
//             as Prometheus text (guest_rps, guest_inflight, guest_requests_total, guest_cpu_seconds_total)
//   anything else: busy-loop WORK_MS ms (or ?ms=N, capped at MAX_WORK_MS), then 200
// The work is burnt in SLICE_MS slices (default 2), yielding between them, so requests share the
// CPU and /healthz and /metrics answer between slices. SLICE_MS equal to WORK_MS makes a guest
// that serves one request at a time and answers its health and metrics only in between, as a
// single-worker application server does: overloaded, it cannot report.
import http from 'node:http';
import { existsSync } from 'node:fs';

const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT || 0);
const guest = process.env.GUEST_ID || 'guest';
const workMs = Number(process.env.WORK_MS || 15);
const maxWorkMs = Number(process.env.MAX_WORK_MS || 5000);
const sliceMs = Math.max(0.1, Number(process.env.SLICE_MS || 2));
const RATE_WINDOW_MS = Number(process.env.RATE_WINDOW_MS || 5000);
const startedAt = Date.now();

let inflight = 0;
let requestsTotal = 0;
let shuttingDown = false;
/** Arrival times (ms) of counted requests within the rate window. */
const arrivals = [];

function rps(now) {
  while (arrivals.length > 0 && arrivals[0] <= now - RATE_WINDOW_MS) arrivals.shift();
  // A young process has not seen a whole window yet: divide by what it has seen (>= 1 s).
  const windowMs = Math.min(RATE_WINDOW_MS, Math.max(1000, now - startedAt));
  return arrivals.length / (windowMs / 1000);
}

// Burn CPU in short slices, yielding between them, so concurrent requests interleave and
// `inflight` means something; the total CPU spent per request is still `ms`.
function burn(ms) {
  return new Promise((resolve) => {
    let left = ms;
    const slice = () => {
      const now = Math.min(left, sliceMs);
      const start = process.hrtime.bigint();
      const end = start + BigInt(Math.round(now * 1e6));
      let x = 0;
      while (process.hrtime.bigint() < end) x += Math.sqrt(x + 1);
      left -= now;
      if (left > 0) setImmediate(slice);
      else resolve(x);
    };
    slice();
  });
}

function send(res, status, type, body) {
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
  if (shuttingDown) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://localhost');
  if (url.pathname === '/healthz') {
    const ok = !shuttingDown && !existsSync('unhealthy');
    send(res, ok ? 200 : 503, 'text/plain', ok ? 'ok' : 'unhealthy');
    return;
  }
  if (url.pathname === '/metrics') {
    const cpu = process.cpuUsage();
    if (url.searchParams.get('format') === 'prometheus') {
      const lines = [
        ['guest_rps', 'gauge', 'Requests per second over the rate window.', rps(Date.now())],
        ['guest_inflight', 'gauge', 'Requests being served.', inflight],
        ['guest_requests_total', 'counter', 'Requests served since start.', requestsTotal],
        ['guest_cpu_seconds_total', 'counter', 'CPU seconds used since start.', (cpu.user + cpu.system) / 1e6],
      ].map(([name, type, help, v]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${v}\n`);
      send(res, 200, 'text/plain; version=0.0.4', lines.join(''));
      return;
    }
    const body = JSON.stringify({
      rps: rps(Date.now()),
      inflight,
      requests_total: requestsTotal,
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
    });
    send(res, 200, 'application/json', body);
    return;
  }
  inflight++;
  requestsTotal++;
  arrivals.push(Date.now());
  const asked = Number(url.searchParams.get('ms'));
  const ms = url.searchParams.has('ms') && Number.isFinite(asked) && asked >= 0 ? Math.min(asked, maxWorkMs) : workMs;
  burn(ms).then(() => {
    inflight--;
    send(res, 200, 'text/plain', `${guest} worked ${ms} ms\n`);
  });
});

server.listen(port, host, () => {
  const addr = server.address();
  console.log(`${new Date().toISOString()} ${guest} listening on ${addr.address}:${addr.port} (work ${workMs} ms)`);
});

// Graceful stop: refuse new connections, let in-flight requests finish, then exit.
process.on('SIGTERM', () => {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`${new Date().toISOString()} ${guest} SIGTERM: draining ${inflight} in-flight request(s)`);
  server.close(() => {
    console.log(`${new Date().toISOString()} ${guest} stopped`);
    process.exit(0);
  });
  server.closeIdleConnections();
});
