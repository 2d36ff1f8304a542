// The control state as `control.json` in the state dir. Writes are atomic (write then rename) and
// compare-and-set under a lock file, so replicas sharing the dir (a shared volume) never overwrite
// each other's changes; each replica follows the file so one `discovery killswitch on` reaches
// every replica within the poll interval.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../platform/atomic-file.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import { watchFile } from '../platform/file-watch.ts';
import { SerialQueue } from '../platform/serial-queue.ts';
import type { ControlBackend, SaveResult } from './backend.ts';
import { withLockFile } from './file-lock.ts';
import type { ControlState, VersionedState } from './state.ts';
import { formatControlDocument, parseControlDocument } from './state.ts';

export interface FileControlBackendOptions {
  /** How often the file is polled besides directory events (see platform/file-watch.ts). */
  readonly pollIntervalMs?: number;
}

export class FileControlBackend implements ControlBackend {
  readonly name: string;
  readonly #dir: string;
  readonly #lock: string;
  readonly #pollIntervalMs: number | undefined;
  /** Loads, saves and watch reads run one at a time, so a watch never reports a value older than a save. */
  readonly #queue = new SerialQueue();
  /** The exact text this backend last read or wrote: any other text was written by someone else. */
  #lastText: string | null = null;

  constructor(dir: string, options: FileControlBackendOptions = {}) {
    this.#dir = dir;
    this.name = join(dir, 'control.json');
    this.#lock = join(dir, '.control.json.lock');
    this.#pollIntervalMs = options.pollIntervalMs;
  }

  /** Creates the state dir if needed (so the watch can follow it from the start). A corrupt file is an error, never silently reset. */
  load(): Promise<VersionedState | null> {
    return this.#queue.run(async () => {
      try {
        await mkdir(this.#dir, { recursive: true });
      } catch (err) {
        throw new DiscoveryError('DSC_ERR_STATE', `cannot create the state dir ${this.#dir}: ${errorMessage(err)}`);
      }
      const text = await this.#read();
      if (text === null) return null;
      let value: VersionedState;
      try {
        value = parseControlDocument(JSON.parse(text));
      } catch (err) {
        throw new DiscoveryError('DSC_ERR_STATE', `state file ${this.name} is invalid: ${errorMessage(err)}; fix or remove it`);
      }
      this.#lastText = text;
      return value;
    });
  }

  saveIfVersion(next: ControlState, expectedVersion: number): Promise<SaveResult> {
    return this.#queue.run(async () => {
      await mkdir(this.#dir, { recursive: true });
      return withLockFile(this.#lock, async (): Promise<SaveResult> => {
        const text = await this.#read();
        // A missing file or one that does not validate holds no one's state: the save replaces
        // it, so a removed file never drops the kill-switch and a bad hand edit is repaired by
        // the next change.
        const current = text === null ? null : parseOrNull(text);
        if (current && current.version !== expectedVersion) {
          this.#lastText = text;
          return { ok: false, current };
        }
        const version = expectedVersion + 1;
        const out = formatControlDocument({ state: next, version });
        await writeFileAtomic(this.name, out);
        this.#lastText = out;
        return { ok: true, version };
      });
    });
  }

  watch(onChange: (value: VersionedState) => void, onError: (message: string) => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    const check = () => this.#queue.run(() => this.#check(onChange, onError, signal));
    const report = (err: unknown) => onError(`cannot follow ${this.name}: ${errorMessage(err)}`);
    const w = watchFile(this.name, () => void check().catch(report), { pollIntervalMs: this.#pollIntervalMs });
    signal.addEventListener('abort', () => w.close(), { once: true });
  }

  async #check(onChange: (value: VersionedState) => void, onError: (message: string) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    let text: string;
    try {
      text = await readFile(this.name, 'utf8');
    } catch {
      return; // removed: keep the state we have
    }
    if (text === this.#lastText) return;
    this.#lastText = text;
    let value: VersionedState;
    try {
      value = parseControlDocument(JSON.parse(text));
    } catch (err) {
      onError(`ignoring a change to ${this.name} written elsewhere: ${errorMessage(err)}`);
      return;
    }
    onChange(value);
  }

  /** The file's text, or null when it does not exist. */
  async #read(): Promise<string | null> {
    try {
      return await readFileIfExists(this.name);
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_STATE', `cannot read ${this.name}: ${errorMessage(err)}`);
    }
  }
}

function parseOrNull(text: string): VersionedState | null {
  try {
    return parseControlDocument(JSON.parse(text));
  } catch {
    return null;
  }
}
