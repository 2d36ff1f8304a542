// A Source backed by one snapshot file in a real format (Consul registrations, kubectl YAML).
// The first version must be good or start() fails, so a typo never starts an empty world.
// Later versions replace the data only when they parse: a bad edit keeps the last good data and
// is reported once, and the next good edit is picked up without a restart.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import type { Source, SourceListener, SourceStatus } from './source.ts';
import type { FileWatch, WatchReason } from '../platform/file-watch.ts';
import { watchFile } from '../platform/file-watch.ts';

export interface SnapshotFileSourceOptions<T> {
  readonly name: string;
  readonly file: string;
  /** Must throw (preferably DiscoveryError DSC_ERR_SNAPSHOT) on invalid input; `origin` names the file in messages. */
  readonly parse: (text: string, origin: string) => T;
  /** Poll period backing up the directory watch. Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Default 100 ms. */
  readonly debounceMs?: number;
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'file not found',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class SnapshotFileSource<T> implements Source<T> {
  readonly name: string;
  readonly file: string;
  readonly #opts: SnapshotFileSourceOptions<T>;
  #listener: SourceListener<T> | null = null;
  #watch: FileWatch | null = null;
  #stopped = false;
  /** Content of the data in effect, and of the last rejected version, so neither is parsed twice. */
  #goodHash: string | null = null;
  #badHash: string | null = null;
  /** A check is running; a trigger meanwhile only asks it for one more round. */
  #draining = false;
  #again = false;
  /** A watch event asked: read the file whatever its metadata says. */
  #force = false;
  /** Metadata of the file when it was last read: an unchanged signature lets a poll skip the read. */
  #lastSig: string | null = null;
  #lastLoadAt: number | null = null;
  #lastError: string | null = null;
  #loads = 0;
  #errors = 0;

  constructor(opts: SnapshotFileSourceOptions<T>) {
    this.#opts = opts;
    this.name = opts.name;
    this.file = opts.file;
  }

  async start(listener: SourceListener<T>, signal: AbortSignal): Promise<void> {
    if (this.#listener) throw new Error(`source ${this.name} already started`);
    this.#listener = listener;
    signal.addEventListener('abort', () => this.#stop(), { once: true });
    if (signal.aborted) return;
    // Watch before the first read, so a change racing the initial load is not missed.
    this.#watch = watchFile(this.file, (reason) => this.#trigger(reason), { pollIntervalMs: this.#opts.pollIntervalMs, debounceMs: this.#opts.debounceMs });
    try {
      this.#lastSig = await this.#signature();
      const text = await this.#read();
      const data = this.#parse(text);
      this.#goodHash = sha256(text);
      this.#accept(data);
    } catch (err) {
      const error = this.#asSnapshotError(err);
      this.#lastError = error.message;
      this.#errors++;
      this.#watch.close();
      this.#watch = null;
      this.#stopped = true;
      throw error;
    }
  }

  /** A read in progress may finish; #stopped keeps it from delivering. */
  #stop(): void {
    this.#stopped = true;
    this.#watch?.close();
    this.#watch = null;
  }

  status(): SourceStatus {
    return {
      name: this.name,
      synced: this.#loads > 0,
      version: this.#goodHash,
      lastChangeAt: this.#lastLoadAt,
      lastError: this.#lastError,
      loads: this.#loads,
      errors: this.#errors,
      detail: { file: this.file },
    };
  }

  #trigger(reason: WatchReason): void {
    if (this.#stopped || !this.#listener) return;
    this.#again = true;
    if (reason === 'event') this.#force = true;
    if (this.#draining) return;
    this.#draining = true;
    void this.#drain().finally(() => {
      this.#draining = false;
      // A trigger that arrived after the last round: run it now rather than at the next poll.
      if (this.#again) this.#trigger('poll');
    });
  }

  /** One check at a time; a trigger during a check runs one more afterwards. */
  async #drain(): Promise<void> {
    while (this.#again && !this.#stopped) {
      this.#again = false;
      const force = this.#force;
      this.#force = false;
      await this.#check(force);
    }
  }

  /**
   * Identity and times of the file behind the path (stat follows the ConfigMap `..data` symlink, so
   * a swap changes the inode). Polls compare it before reading: re-reading and hashing a 40 MB
   * snapshot every poll interval would churn the heap for nothing.
   */
  async #signature(): Promise<string | null> {
    try {
      const s = await stat(this.file, { bigint: true });
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch {
      return null;
    }
  }

  async #check(force: boolean): Promise<void> {
    const sig = await this.#signature();
    // Timestamps are coarse (a few ms), so only polls trust an unchanged signature; watch events always read.
    if (!force && sig !== null && sig === this.#lastSig) return;
    this.#lastSig = sig;
    let text: string;
    try {
      text = await this.#read();
    } catch (err) {
      // Mid-replacement (unlinked, not yet renamed) or really gone: keep serving the last good data.
      this.#reject(this.#asSnapshotError(err), null);
      return;
    }
    const hash = sha256(text);
    if (hash === this.#goodHash) {
      // Unchanged (a no-op rewrite), or back to the good version after a failure: nothing new to deliver.
      this.#badHash = null;
      this.#lastError = null;
      return;
    }
    if (hash === this.#badHash) return;
    let data: T;
    try {
      data = this.#parse(text);
    } catch (err) {
      this.#reject(this.#asSnapshotError(err), hash);
      return;
    }
    if (this.#stopped) return;
    this.#goodHash = hash;
    this.#badHash = null;
    this.#accept(data);
  }

  #accept(data: T): void {
    this.#loads++;
    this.#lastLoadAt = Date.now();
    this.#lastError = null;
    this.#listener?.data(data);
  }

  #reject(err: DiscoveryError, hash: string | null): void {
    this.#badHash = hash;
    if (this.#stopped || err.message === this.#lastError) return;
    this.#lastError = err.message;
    this.#errors++;
    this.#listener?.error(err);
  }

  async #read(): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const reason = READ_ERRORS[code] ?? errorMessage(err);
      throw new DiscoveryError('DSC_ERR_SNAPSHOT', `${this.file}: cannot read: ${reason}${code && READ_ERRORS[code] ? ` (${code})` : ''}`, { cause: err });
    }
    // Editors on Windows save UTF-8 with a BOM; JSON.parse rejects it.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  #parse(text: string): T {
    return this.#opts.parse(text, this.file);
  }

  #asSnapshotError(err: unknown): DiscoveryError {
    if (err instanceof DiscoveryError) return err;
    return new DiscoveryError('DSC_ERR_SNAPSHOT', `${this.file}: ${errorMessage(err)}`, { cause: err });
  }
}
