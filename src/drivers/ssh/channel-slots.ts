// Channel slots of one SSH connection: at most N channels open at once, the rest wait in order.

/** FIFO counting semaphore for the channels of one SSH connection. */
export class ChannelSlots {
  private free: number;
  private waiting: Array<{ resolve: (release: () => void) => void; reject: (e: unknown) => void }> = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(): Promise<() => void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      // Handed on in a later turn: ssh2 emits a channel's 'close' before it has answered the
      // server's CHANNEL_CLOSE, and a new CHANNEL_OPEN sent first would find the slot still taken.
      setImmediate(() => {
        const next = this.waiting.shift();
        if (next) next.resolve(this.releaser());
        else this.free++;
      });
    };
  }
  rejectAll(e: unknown): void {
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}
