// Shared helpers for the local driver tests: policies pointing at templates, temp guest dirs
// that are cleaned up (every process killed, every file removed) at teardown.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BALANCER, type CloneMethod, type Policy } from '../../../src/domain/policy.ts';
import type { Guest } from '../../../src/domain/types.ts';
import type { GuestSpec, StepResult } from '../../../src/drivers/hypervisor/hypervisor.ts';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { makePolicy as basePolicy } from '../../../src/decision/test-helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const TEMPLATES = path.resolve(here, '../../../templates');
export const FIXTURES = path.join(here, 'fixtures');
export const WEB_IMAGE = path.join(TEMPLATES, 'images/web');
export const WEB_TEMPLATE = path.join(TEMPLATES, 'web.local.yaml');

/** The decision core's test policy, pointed at a local template and image. */
export function makePolicy(guest: { template?: string; image?: string; clone?: CloneMethod } = {}, pool = 'web'): Policy {
  const base = basePolicy({ file: '/dev/null', pool, balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' } });
  return {
    ...base,
    guest: { ...base.guest, driver: 'local', template: guest.template ?? WEB_TEMPLATE, image: guest.image ?? WEB_IMAGE, clone: guest.clone ?? 'auto' },
  };
}

export function spec(id: string, policy: Policy): GuestSpec {
  return { id, pool: policy.pool, policy };
}

/** The stored guest the controller would pass to stop()/deleteClone(). */
export function guestOf(s: GuestSpec, ...steps: StepResult[]): Guest {
  const meta = Object.assign({}, ...steps.map((r) => r.meta)) as Record<string, string>;
  const address = steps.map((r) => r.address).filter(Boolean).pop();
  return { id: s.id, pool: s.pool, state: 'healthy', driver: 'local', host: 'localhost', createdAt: 0, updatedAt: 0, meta, ...(address ? { address } : {}) };
}

interface Teardown {
  teardown(fn: () => Promise<void> | void): void;
}

/** A temp guests dir; at teardown every guest process group left in it is killed and the dir removed. */
export async function guestsDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-guests-'));
  t.teardown(async () => {
    const hv = new LocalHypervisor({ guestsDir: dir });
    for (const g of await hv.discover()) {
      const pid = Number(g.meta.pid);
      if (g.running && pid > 0) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds or `ms` passes (no timing assertion: just a bounded wait). */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return cond();
}
