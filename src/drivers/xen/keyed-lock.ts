// Mutual exclusion per key (here: per dom0) for async work: each run starts after every earlier
// run for the same key has settled, whether it succeeded or failed. Different keys never wait.
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  /** Keys with a run queued or in progress. */
  busy(): string[] {
    return [...this.tails.keys()];
  }
}
