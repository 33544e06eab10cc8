// Reach a TCP service inside a network namespace from the test process without binding anything
// outside loopback: a helper process run in the namespace (`ip netns exec`) listens on a unix
// socket (file-system paths are the same in every network namespace) and connects each
// connection to the target there; this side listens on 127.0.0.1:<ephemeral> and pipes each
// connection to that socket. Plain byte pipes: HTTP, keep-alive and half-closes pass unchanged.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NetnsBridge {
  /** Loopback port in this namespace that reaches the target. */
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

// Run in the namespace: argv = [socketPath, host, port]. Exits when its stdin closes (the test
// process died), so a killed test never leaves it behind.
const INNER = `
const net = require('node:net');
const [path, host, port] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.connect({ host, port: Number(port) });
  c.pipe(u); u.pipe(c);
  const end = () => { c.destroy(); u.destroy(); };
  c.on('error', end); u.on('error', end); c.on('close', end); u.on('close', end);
});
server.listen(path, () => process.stdout.write('ready\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

export async function bridgeIntoNetns(ns: string, host: string, port: number): Promise<NetnsBridge> {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-nsbridge-'));
  const sock = join(dir, 'bridge.sock');
  const inner: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', INNER, sock, host, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const errors: string[] = [];
  inner.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
  const exited = new Promise<void>((r) => inner.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`netns bridge to ${host}:${port} in ${ns} did not start: ${errors.join('')}`)), 30_000);
    inner.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    inner.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`netns bridge to ${host}:${port} in ${ns} exited (${code}): ${errors.join('')}`));
    });
  });
  const conns = new Set<net.Socket>();
  const outer = net.createServer((c) => {
    const u = net.connect(sock);
    conns.add(c);
    conns.add(u);
    c.pipe(u);
    u.pipe(c);
    const end = (): void => {
      c.destroy();
      u.destroy();
      conns.delete(c);
      conns.delete(u);
    };
    c.on('error', end);
    u.on('error', end);
    c.on('close', end);
    u.on('close', end);
  });
  const local = await new Promise<number>((resolve) => outer.listen(0, '127.0.0.1', () => resolve((outer.address() as net.AddressInfo).port)));
  return {
    port: local,
    url: `http://127.0.0.1:${local}`,
    async stop() {
      const closed = new Promise<void>((r) => outer.close(() => r()));
      for (const c of conns) c.destroy();
      await closed;
      inner.stdin!.end();
      const killer = setTimeout(() => inner.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
