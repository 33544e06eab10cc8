#!/usr/bin/env node
// Example before_register hook: warm a new guest up before the balancer sends it traffic (JIT,
// caches, connection pools). gridhost runs it with an argument array in the templates folder,
// with a minimal environment: GRIDHOST_GUEST, GRIDHOST_POOL, GRIDHOST_ADDRESS, GRIDHOST_HOST.
//
//   node hooks/warm-up.mjs ADDRESS [PATH...]      (policy: ["node", "hooks/warm-up.mjs", "{{address}}", "/", "/"])
//
// Requests every PATH (default "/") once, in order, each within 5 s; exits 0 when every answer
// was 2xx, 1 otherwise, naming the first failure on stderr (gridhost keeps its last line).
import http from 'node:http';

const [address, ...paths] = process.argv.slice(2);
if (!address || !/^[A-Za-z0-9.:[\]-]+$/.test(address)) {
  console.error(`usage: warm-up.mjs HOST:PORT [PATH...] (got ${JSON.stringify(address ?? '')})`);
  process.exit(2);
}

function get(path) {
  return new Promise((resolve, reject) => {
    const req = http.get(`http://${address}${path.startsWith('/') ? path : `/${path}`}`, { timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

const started = Date.now();
for (const path of paths.length > 0 ? paths : ['/']) {
  try {
    const status = await get(path);
    if (status < 200 || status >= 300) {
      console.error(`warm-up of ${process.env.GRIDHOST_GUEST ?? address}: GET ${path} answered ${status}`);
      process.exit(1);
    }
  } catch (e) {
    console.error(`warm-up of ${process.env.GRIDHOST_GUEST ?? address}: GET ${path} failed: ${e.message}`);
    process.exit(1);
  }
}
console.log(`warmed ${process.env.GRIDHOST_GUEST ?? address} with ${Math.max(1, paths.length)} request(s) in ${Date.now() - started} ms`);
