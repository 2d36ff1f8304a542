// LIST responses: the list resourceVersion, selectors, and `limit`/`continue` paging over a
// consistent snapshot (later pages show the objects as they were at the first page).

import { randomUUID } from 'node:crypto';
import { selects, type ObjectFilter } from './filter.ts';
import type { ResourceType } from './resources.ts';
import { badRequest, expired, tooLargeResourceVersion } from './status.ts';
import type { ObjectStore, StoredObject } from './store.ts';

export interface ListRequest extends ObjectFilter {
  readonly type: ResourceType;
  readonly limit: number | null;
  readonly continueToken: string | null;
  readonly resourceVersion: string | null;
  readonly resourceVersionMatch: string | null;
}

interface Snapshot {
  readonly type: ResourceType;
  readonly rv: number;
  readonly items: readonly StoredObject[];
}

interface ContinueToken {
  readonly rv: number;
  /** Index into the snapshot of the first item not yet returned. */
  readonly start: number;
  readonly id: string;
}

const SNAPSHOTS_KEPT = 16;
const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

export class Lister {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  /** Forgets the paging snapshots (a compaction makes their resourceVersion unreachable). */
  forgetSnapshots(): void {
    this.snapshots.clear();
  }

  /** The list body as JSON text; throws a Status error for bad parameters or an expired token. */
  respond(req: ListRequest): string {
    const { type } = req;
    let snapshot: Snapshot;
    let start = 0;
    let snapshotId: string | null = null;
    if (req.continueToken !== null) {
      const token = decodeToken(req.continueToken);
      const found = this.snapshots.get(token.id);
      if (!found || found.type !== type || token.rv < this.store.history.floor) throw expired(CONTINUE_EXPIRED);
      snapshot = found;
      start = token.start;
      snapshotId = token.id;
    } else {
      this.checkResourceVersion(req);
      snapshot = { type, rv: this.store.resourceVersion, items: this.store.list(type, req.namespace) };
    }
    const items: string[] = [];
    let index = start;
    const limit = req.limit ?? Infinity;
    for (; index < snapshot.items.length && items.length < limit; index++) {
      const stored = snapshot.items[index] as StoredObject;
      if (selects(req, stored)) items.push(stored.itemJson);
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (index < snapshot.items.length) {
      if (snapshotId === null) {
        snapshotId = randomUUID();
        this.keep(snapshotId, snapshot);
      }
      metadata.continue = encodeToken({ rv: snapshot.rv, start: index, id: snapshotId });
      if (!req.labels && !req.fields && req.name === null) metadata.remainingItemCount = snapshot.items.length - index;
    }
    return `{"kind":${JSON.stringify(type.listKind)},"apiVersion":${JSON.stringify(type.apiVersion)},"metadata":${JSON.stringify(metadata)},"items":[${items.join(',')}]}`;
  }

  /** The store serves only its current state: older exact reads are gone, newer ones time out. */
  private checkResourceVersion(req: ListRequest): void {
    const raw = req.resourceVersion;
    if (raw === null || raw === '' || raw === '0') return;
    if (!/^\d+$/.test(raw)) throw badRequest(`invalid resource version: ${JSON.stringify(raw)}`);
    const rv = Number(raw);
    const current = this.store.resourceVersion;
    if (rv > current) throw tooLargeResourceVersion(rv, current);
    if (req.resourceVersionMatch === 'Exact' && rv !== current) throw expired(`too old resource version: ${rv} (${current})`);
  }

  private keep(id: string, snapshot: Snapshot): void {
    this.snapshots.set(id, snapshot);
    while (this.snapshots.size > SNAPSHOTS_KEPT) {
      const oldest = this.snapshots.keys().next().value as string;
      this.snapshots.delete(oldest);
    }
  }
}

function encodeToken(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', ...token })).toString('base64url');
}

function decodeToken(text: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (typeof parsed.rv === 'number' && typeof parsed.start === 'number' && typeof parsed.id === 'string') {
      return { rv: parsed.rv, start: parsed.start, id: parsed.id };
    }
  } catch {
    // falls through to the 400 below
  }
  throw badRequest('continue key is not valid: not a continue token issued by this server');
}
