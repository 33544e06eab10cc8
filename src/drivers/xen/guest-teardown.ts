// The teardown path of a Xen guest: stop its domain (`xl shutdown`, polled, then `xl destroy`;
// also a domain an `xl create` left behind by a crashed gridhost is still making) and delete its
// clone, rendered config and memory reservation.
import type { Guest } from '../../domain/types.ts';
import { GridhostError, isGridhostError } from '../../errors/errors.ts';
import type { DriverFence } from '../hypervisor/hypervisor.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';
import { clonePlan } from './clone-commands.ts';
import type { Dom0Commands } from './dom0-commands.ts';
import type { PlaceAndReserve } from './place-and-reserve.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import { isNoSuchDomain } from './xl-parse.ts';

export class GuestTeardown {
  constructor(
    private readonly cmd: Dom0Commands,
    private readonly places: PlaceAndReserve,
    private readonly o: XenDriverSettings,
  ) {}

  async stop(guest: Guest, timeoutMs: number, fence?: DriverFence): Promise<void> {
    const host = guest.meta['host'] ?? guest.host;
    if (!host || !this.cmd.hosts.names().includes(host)) return; // never placed: nothing runs
    const domain = guest.meta['domain'] ?? this.cmd.domainName(guest.id);
    // A paused domain (the warm pool's) cannot answer a shutdown request, and has no work to
    // finish: destroy it at once.
    if (guest.meta['paused'] === '1') {
      await this.cmd.destroyQuietly(host, domain);
      if (await this.cmd.waitGone(host, domain, this.o.goneTimeoutMs)) return;
      throw new GridhostError('GH_STOP_FAILED', `${host}: paused domain ${domain} is still listed after xl destroy`, { host, domain });
    }
    // `xl shutdown` without -w, then our own polling: this is `xl shutdown -w` with a timeout,
    // except that an xl killed at the timeout while it tears devices down would leave the
    // domain half-destroyed (seen on the lab: the following `xl destroy` then fails).
    const shutdown = async () => {
      const res = await this.cmd.hosts.exec(host, this.cmd.fenced(fence, [this.o.xlPath, 'shutdown', domain]), { timeoutMs: this.o.commandTimeoutMs });
      this.cmd.throwIfFenced(host, res);
      return res;
    };
    let r = await shutdown();
    if (r.code !== 0 && isNoSuchDomain(r.stderr)) {
      // No domain yet. A gridhost that died during `xl create` left it running on dom0 (remote
      // commands outlive the SSH session; checked on the lab): returning now would let it make
      // the domain afterwards. While one runs, wait for the domain and stop it.
      const cfg = guest.meta['cfg'] ?? `${this.o.cfgDir}/${assertSafeName(guest.id)}.cfg`;
      const create = `${this.o.xlPath} create ${assertSafePath(cfg)}`;
      const deadline = Date.now() + this.o.createTimeoutMs;
      for (;;) {
        // Look for the create before looking for the domain: a create that ends in between
        // has made its domain by then, so the shutdown below finds it.
        const inFlight = await this.cmd.processRunning(host, create);
        r = await shutdown();
        // Once the domain exists, stop looking: xl's own monitor of a created domain keeps the
        // create's command line for the domain's whole life.
        if (!(r.code !== 0 && isNoSuchDomain(r.stderr))) break;
        if (!inFlight || Date.now() > deadline) return;
        await this.o.sleep(500);
      }
    }
    if (await this.cmd.waitGone(host, domain, Math.max(1000, timeoutMs))) return;
    try {
      await this.cmd.destroyQuietly(host, domain, fence);
    } catch (e) {
      // destroy can fail while a shutdown is finishing the same teardown: only a domain that
      // is still listed afterwards is a failure.
      if (!isGridhostError(e) || e.code !== 'GH_STOP_FAILED') throw e;
    }
    if (!(await this.cmd.waitGone(host, domain, this.o.goneTimeoutMs))) {
      throw new GridhostError('GH_STOP_FAILED', `${host}: domain ${domain} is still listed after xl shutdown and xl destroy`, { host, domain });
    }
  }

  async deleteClone(guest: Guest, fence?: DriverFence): Promise<void> {
    this.places.forget(guest.id);
    const host = guest.meta['host'];
    if (!host || !this.cmd.hosts.names().includes(host)) {
      // Placed but cut short before its host was recorded (a crash between placement and the
      // clone's end): only its memory reservation can exist, on whichever dom0 placement chose
      // (its config, written later, names the host and discover() finds it).
      const reservation = this.places.reservationPath(assertSafeName(guest.id));
      await Promise.all(this.cmd.hosts.names().map((h) => this.cmd.bestEffort(h, ['rm', '-f', '--', reservation], fence)));
      return;
    }
    const cfg = guest.meta['cfg'] ?? `${this.o.cfgDir}/${assertSafeName(guest.id)}.cfg`;
    const method = guest.meta['cloneMethod'];
    const image = guest.meta['image'];
    if (method && image) {
      const plan = clonePlan(method as Parameters<typeof clonePlan>[0], image, guest.id, { snapshotSize: this.o.lvmSnapshotSize });
      // A clone command that outlived a crashed gridhost would make the disk after this removal
      // (an LV would then be named by no config, found by no later pass): let it end first.
      const deadline = Date.now() + this.o.cloneTimeoutMs;
      while (Date.now() < deadline && (await this.cmd.processRunning(host, plan.create.join(' ')))) await this.o.sleep(500);
      const r = await this.cmd.hosts.exec(host, this.cmd.fenced(fence, plan.remove), { timeoutMs: this.o.cloneTimeoutMs });
      this.cmd.throwIfFenced(host, r);
      if (r.code !== 0) {
        const still = await this.cmd.hosts.exec(host, ['test', '-e', plan.target], { timeoutMs: this.o.commandTimeoutMs });
        if (still.code === 0) {
          throw new GridhostError('GH_CLONE_FAILED', `${host}: could not remove clone ${plan.target}: ${r.stderr.trim()}`, { host, disk: plan.target });
        }
      }
    }
    await this.cmd.run(host, ['rm', '-f', '--', assertSafePath(cfg), this.places.reservationPath(assertSafeName(guest.id))], 'GH_CLONE_FAILED', { fence });
  }
}
