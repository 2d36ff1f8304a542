// Runs async jobs one after another, so two writers never interleave their read-modify-write
// steps. A failed job rejects only its own promise; the next job still runs.

export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every job queued before it has settled; resolves or rejects with its outcome. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
