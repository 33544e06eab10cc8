// One kept SSH connection per dom0 (ssh2), with commands multiplexed as channels over it.
// Steady state costs no handshake per command: the connection is opened on first use, kept
// alive with keepalives, and re-opened (exponential backoff with full jitter) only after it drops.
//
// Error contract: every method rejects only with GridhostError:
//  - GH_HOST_KEY_MISMATCH: the presented host key is not the pinned one (never retried)
//  - GH_HOST_UNREACHABLE: cannot connect / authenticate, or the connection dropped mid-command
//  - GH_COMMAND_TIMEOUT: the command outlived its timeout (its channel is signalled and closed)
//  - GH_COMMAND_FAILED: a channel could not be opened (e.g. a forward target refused)
//  - GH_CONFIG_INVALID: no usable credentials (key file unreadable, no agent)
// A non-zero exit code is a result, not an error: callers classify it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { GridhostError } from '../../errors/errors.ts';
import { ChannelSlots } from './channel-slots.ts';
import { forwardingAgent, httpGetVia, socketLike, type HttpResult } from './forward-http.ts';
import { shellCommand } from './shell-quote.ts';

export type { HttpResult } from './forward-http.ts';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** [0, 1) source for jitter; injectable for tests. */
  random: () => number;
}

export interface SshHostOptions {
  /** Name in logs and errors ("dom0-a"). */
  name: string;
  address: string;
  port: number;
  user: string;
  /** Private key material; wins over privateKeyPath. Never logged. */
  privateKey?: Buffer | string;
  privateKeyPath?: string;
  /** ssh-agent socket; defaults to SSH_AUTH_SOCK when no key is given. */
  agent?: string;
  /** Pinned `SHA256:<base64 without padding>` fingerprint of the host key. */
  hostKeyFingerprint: string;
  /** Channels open at once on the connection; more commands queue. Keep it below the server's
   *  limit (OpenSSH MaxSessions 10, dropbear 100): servers free a slot a moment after a close. */
  maxChannels?: number;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Connection attempts per connect before GH_HOST_UNREACHABLE. */
  connectAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Run each command under `timeout -s KILL <timeout + 1 s>` on the host (default true). OpenSSH
   * ignores signal requests for root sessions (no privilege separation there), so closing the
   * channel alone would leave a hung command running on the dom0.
   */
  remoteTimeout?: boolean;
}

export interface ExecOptions {
  timeoutMs: number;
  stdin?: string | Buffer;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; -1 when the command died from a signal. */
  code: number;
  signal?: string;
}

export interface SshCounters {
  handshakes: number;
  commands: number;
  forwards: number;
}

/** OpenSSH's `SHA256:` fingerprint of a public key blob (base64, padding stripped). */
export function sshFingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** Delay before retry number `attempt` (0-based): full jitter over an exponential ceiling. */
export function backoffDelay(attempt: number, b: BackoffOptions): number {
  const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** attempt);
  return Math.floor(b.random() * ceiling);
}

const MAX_OUTPUT = 16 * 1024 * 1024;

export class SshHost {
  readonly name: string;
  readonly counters: SshCounters = { handshakes: 0, commands: 0, forwards: 0 };
  private readonly opts: SshHostOptions;
  private readonly slots: ChannelSlots;
  private readonly backoff: BackoffOptions;
  private readonly sleep: (ms: number) => Promise<void>;
  private client: Client | undefined;
  private ready: Promise<Client> | undefined;
  private closed = false;
  private httpAgent: http.Agent | undefined;

  constructor(opts: SshHostOptions) {
    if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(opts.hostKeyFingerprint)) {
      throw new GridhostError(
        'GH_CONFIG_INVALID',
        `dom0 ${opts.name}: hostKeyFingerprint must look like "SHA256:<43 base64 chars>" as printed by \`ssh-keygen -lf <host key>.pub\``,
        { host: opts.name },
      );
    }
    this.opts = opts;
    this.name = opts.name;
    this.slots = new ChannelSlots(Math.max(1, opts.maxChannels ?? 8));
    this.backoff = { baseMs: 250, maxMs: 5000, random: Math.random, ...opts.backoff };
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** True while an authenticated connection is open. */
  get connected(): boolean {
    return this.client !== undefined && this.ready !== undefined;
  }

  /** Run argv (quoted by shellCommand) on the host. Resolves with any exit code. */
  async exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const command = shellCommand(argv);
    const remote =
      this.opts.remoteTimeout === false ? command : shellCommand(['timeout', '-s', 'KILL', String(Math.ceil(options.timeoutMs / 1000) + 1), ...argv]);
    const release = await this.slots.acquire();
    let client: Client;
    try {
      client = await this.connection();
    } catch (e) {
      release();
      throw e;
    }
    this.counters.commands++;
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      let stream: ClientChannel | undefined;
      const timer = setTimeout(() => {
        finish(() => {
          reject(
            new GridhostError('GH_COMMAND_TIMEOUT', `${this.name}: \`${command}\` did not finish within ${options.timeoutMs} ms`, {
              host: this.name,
              command,
              timeoutMs: options.timeoutMs,
            }),
          );
        });
        if (stream) {
          killRemote(stream);
          stream.close();
        } else {
          release();
        }
      }, options.timeoutMs);
      let retries = 0;
      const onOpen = (err: (Error & { reason?: number }) | undefined, ch: ClientChannel): void => {
        // OpenSSH refuses a session past MaxSessions ("open failed", logging "no more sessions")
        // and frees a session only once it has processed our close: retry a few times. Dropbear
        // (the Xen lab's dom0) at times refuses the exec request itself ("Unable to exec") on a
        // busy connection; the command did not start, so that is retried the same way.
        const refused = err !== undefined && (typeof err.reason === 'number' || err.message === 'Unable to exec');
        if (refused && retries < 8 && !settled && this.client === client) {
          setTimeout(() => {
            if (settled) return;
            try {
              client.exec(remote, onOpen);
            } catch (e) {
              release();
              finish(() => reject(this.lost(e, command)));
            }
          }, 20 * 2 ** retries++);
          return;
        }
        if (err) {
          release();
          finish(() => reject(this.channelError(err, command)));
          return;
        }
        if (settled) {
          ch.close();
          ch.once('close', release);
          return;
        }
        stream = ch;
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let size = 0;
        let code: number | null = null;
        let signal: string | undefined;
        const collect = (into: Buffer[]) => (d: Buffer) => {
          size += d.length;
          if (size <= MAX_OUTPUT) into.push(d);
        };
        ch.on('data', collect(out));
        ch.stderr.on('data', collect(errOut));
        ch.on('exit', (c: number | null, sig?: string) => {
          code = c;
          if (sig) signal = sig;
        });
        ch.once('close', () => {
          release();
          if (code === null && signal === undefined) {
            finish(() =>
              reject(
                new GridhostError('GH_HOST_UNREACHABLE', `${this.name}: connection lost while running \`${command}\``, {
                  host: this.name,
                  command,
                }),
              ),
            );
            return;
          }
          const result: ExecResult = {
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
            code: code ?? -1,
          };
          if (signal !== undefined) result.signal = signal;
          finish(() => resolve(result));
        });
        ch.on('error', () => {
          // 'close' follows and settles the promise
        });
        if (options.stdin !== undefined) ch.end(options.stdin);
        else ch.end();
      };
      try {
        client.exec(remote, onOpen);
      } catch (e) {
        release();
        finish(() => reject(this.lost(e, command)));
      }
    });
  }

  /** Open a TCP stream to host:port as seen from the dom0 (ssh2 forwardOut). Uses a channel slot. */
  async forward(host: string, port: number): Promise<Duplex> {
    const release = await this.slots.acquire();
    let client: Client;
    try {
      client = await this.connection();
    } catch (e) {
      release();
      throw e;
    }
    this.counters.forwards++;
    const what = `forward to ${host}:${port}`;
    return new Promise<Duplex>((resolve, reject) => {
      try {
        client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
          if (err) {
            release();
            reject(this.channelError(err, what));
            return;
          }
          ch.once('close', release);
          ch.on('error', () => {
            // surfaced to the consumer through 'close'/aborted reads
          });
          resolve(socketLike(ch));
        });
      } catch (e) {
        release();
        reject(this.lost(e, what));
      }
    });
  }

  /** An http.Agent whose connections are forwarded through this host (usable with axios). */
  agent(): http.Agent {
    this.httpAgent ??= forwardingAgent((host, port) => this.forward(host, port));
    return this.httpAgent;
  }

  /** GET http://host:port/path as seen from the dom0, over the SSH connection. */
  httpGet(host: string, port: number, path: string, timeoutMs: number): Promise<HttpResult> {
    return httpGetVia(this.agent(), this.name, host, port, path, timeoutMs);
  }

  /** Close the connection; queued commands reject with GH_HOST_UNREACHABLE. */
  async close(): Promise<void> {
    this.closed = true;
    this.slots.rejectAll(new GridhostError('GH_HOST_UNREACHABLE', `${this.name}: connection closed`, { host: this.name }));
    this.httpAgent?.destroy();
    const c = this.client;
    this.client = undefined;
    this.ready = undefined;
    if (c) {
      await new Promise<void>((resolve) => {
        c.once('close', () => resolve());
        c.end();
        setTimeout(resolve, 1000).unref();
      });
    }
  }

  /** The open connection, connecting (with retries) when there is none. */
  private connection(): Promise<Client> {
    if (this.closed) {
      return Promise.reject(new GridhostError('GH_HOST_UNREACHABLE', `${this.name}: connection closed`, { host: this.name }));
    }
    if (!this.ready) {
      const p = this.connectWithRetry();
      this.ready = p;
      p.catch(() => {
        if (this.ready === p) this.ready = undefined;
      });
    }
    return this.ready;
  }

  private async connectWithRetry(): Promise<Client> {
    const attempts = Math.max(1, this.opts.connectAttempts ?? 3);
    let last: GridhostError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await this.sleep(backoffDelay(i - 1, this.backoff));
      if (this.closed) break;
      try {
        return await this.connectOnce();
      } catch (e) {
        last = e as GridhostError;
        if (last.code !== 'GH_HOST_UNREACHABLE' || last.details['retry'] === false) throw last;
      }
    }
    throw last ?? new GridhostError('GH_HOST_UNREACHABLE', `${this.name}: connection closed`, { host: this.name });
  }

  private credentials(): Pick<ConnectConfig, 'privateKey' | 'agent'> {
    if (this.opts.privateKey !== undefined) return { privateKey: this.opts.privateKey };
    if (this.opts.privateKeyPath) {
      try {
        return { privateKey: readFileSync(this.opts.privateKeyPath) };
      } catch (e) {
        throw new GridhostError(
          'GH_CONFIG_INVALID',
          `dom0 ${this.name}: cannot read privateKeyPath ${this.opts.privateKeyPath}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
          { host: this.name },
        );
      }
    }
    const agent = this.opts.agent ?? process.env['SSH_AUTH_SOCK'];
    if (agent) return { agent };
    throw new GridhostError('GH_CONFIG_INVALID', `dom0 ${this.name}: set privateKeyPath or run an ssh-agent (SSH_AUTH_SOCK)`, { host: this.name });
  }

  private connectOnce(): Promise<Client> {
    const o = this.opts;
    const where = `${o.user}@${o.address}:${o.port}`;
    return new Promise<Client>((resolve, reject) => {
      const c = new Client();
      let presented: string | undefined;
      let isReady = false;
      c.on('ready', () => {
        isReady = true;
        this.counters.handshakes++;
        this.client = c;
        resolve(c);
      });
      c.on('error', (err: Error & { level?: string }) => {
        if (isReady) return; // 'close' follows; the next command reconnects
        if (presented !== undefined && presented !== o.hostKeyFingerprint) {
          reject(
            new GridhostError(
              'GH_HOST_KEY_MISMATCH',
              `${o.name} (${o.address}:${o.port}) presented host key ${presented} but ${o.hostKeyFingerprint} is pinned: ` +
                'if the dom0 was reinstalled, check the new key out of band (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it) and update hostKeyFingerprint',
              { host: o.name, expected: o.hostKeyFingerprint, presented },
            ),
          );
        } else if (err.level === 'client-authentication') {
          reject(
            new GridhostError('GH_HOST_UNREACHABLE', `${o.name}: ssh authentication as ${where} failed: the dom0 must authorize the configured key`, {
              host: o.name,
              retry: false,
            }),
          );
        } else {
          reject(new GridhostError('GH_HOST_UNREACHABLE', `${o.name}: cannot connect to ${where}: ${err.message}`, { host: o.name }));
        }
      });
      c.on('close', () => {
        if (this.client === c) {
          this.client = undefined;
          this.ready = undefined;
        }
        if (!isReady) reject(new GridhostError('GH_HOST_UNREACHABLE', `${o.name}: connection to ${where} closed during the handshake`, { host: o.name }));
      });
      let creds: Pick<ConnectConfig, 'privateKey' | 'agent'>;
      try {
        creds = this.credentials();
      } catch (e) {
        reject(e);
        return;
      }
      c.connect({
        host: o.address,
        port: o.port,
        username: o.user,
        ...creds,
        readyTimeout: o.connectTimeoutMs ?? 10_000,
        keepaliveInterval: o.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: o.keepaliveCountMax ?? 3,
        hostVerifier: (key: Buffer): boolean => {
          presented = sshFingerprint(key);
          return presented === o.hostKeyFingerprint;
        },
      });
    });
  }

  private channelError(err: Error, what: string): GridhostError {
    if (!this.client) return this.lost(err, what);
    return new GridhostError('GH_COMMAND_FAILED', `${this.name}: could not open a channel for ${what}: ${err.message}`, { host: this.name });
  }

  private lost(e: unknown, what: string): GridhostError {
    return new GridhostError('GH_HOST_UNREACHABLE', `${this.name}: connection lost before ${what}: ${(e as Error).message}`, { host: this.name });
  }
}

/**
 * Send SIGKILL to the channel's command. ssh2's Channel.signal() only sends while our side of the
 * channel is open, but we send EOF right after the command starts (its stdin is done); RFC 4254
 * allows the request after EOF, so it goes through the protocol object directly then.
 * Servers kill the session's process group (OpenSSH) or its process (dropbear).
 */
function killRemote(ch: ClientChannel): void {
  const c = ch as unknown as { outgoing?: { id?: number; state?: string }; _client?: { _protocol?: { signal?: (id: number, sig: string) => void } } };
  try {
    const proto = c._client?._protocol;
    const id = c.outgoing?.id;
    if (c.outgoing?.state === 'open') ch.signal('KILL');
    else if (c.outgoing?.state === 'eof' && proto?.signal && id !== undefined) proto.signal(id, 'KILL');
  } catch {
    // a server without signal support: closing the channel is all we can do
  }
}
