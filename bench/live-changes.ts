// Change-to-answer timing for the live-mode benchmark. Every followed service has a blocking query
// parked on each replica; a change is written into a double (stamped there with the time it was
// written), and for each replica two moments are kept: the first answer received after the change
// was sent (the woken blocking query) and the first answer that shows the change.

import type { Answer, Doubles, HealthEntry } from './live-clients.ts';
import { entriesOf } from './live-clients.ts';
import type { DoublesCommand } from './live-doubles.ts';

export interface Change {
  readonly service: string;
  readonly kind: string;
  /** The service is in the set looked up most (the replicas give those their own watch). */
  readonly hot: boolean;
  readonly matches: (entries: readonly HealthEntry[], answer: Answer) => boolean;
  sentAt: number;
  /** When the double wrote it (its clock: the same machine's Date.now()). */
  at: number;
  readonly woken: Map<string, number>;
  readonly seen: Map<string, number>;
}

export interface ChangeTimes {
  /** ms from the write to the first answer showing it, one per (change, replica). */
  readonly answer: number[];
  readonly answerHot: number[];
  readonly answerCold: number[];
  /** ms from the write to the first answer after it (the blocking query woken). */
  readonly woken: number[];
  /** ms from the write to the first answer showing it, by kind of change. */
  readonly byKind: Record<string, number[]>;
  /** (change, replica) pairs never answered with the change. */
  readonly missed: number;
}

export class ChangeTracker {
  readonly #replicas: readonly string[];
  readonly #pending = new Map<string, Change>();
  readonly #done: Change[] = [];

  constructor(replicas: readonly string[]) {
    this.#replicas = replicas;
  }

  busy(service: string): boolean {
    return this.#pending.has(service);
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Called by every follower with every answer it gets. */
  onAnswer(replica: string, service: string, answer: Answer): void {
    const c = this.#pending.get(service);
    if (!c || answer.at < c.sentAt) return;
    if (!c.woken.has(replica)) c.woken.set(replica, answer.at);
    if (!c.seen.has(replica) && c.matches(entriesOf(answer), answer)) c.seen.set(replica, answer.at);
    this.#settle(c);
  }

  #settle(c: Change): void {
    if (Number.isNaN(c.at) || this.#replicas.some((r) => !c.seen.has(r))) return;
    this.#pending.delete(c.service);
    this.#done.push(c);
  }

  /** Writes the change into the doubles; resolves once the doubles have stamped it. */
  async apply(doubles: Doubles, cmd: DoublesCommand, change: Omit<Change, 'sentAt' | 'at' | 'woken' | 'seen'>): Promise<void> {
    if (this.#pending.has(change.service)) throw new Error(`a change to ${change.service} is still pending`);
    const c: Change = { ...change, sentAt: Date.now(), at: NaN, woken: new Map(), seen: new Map() };
    this.#pending.set(c.service, c);
    c.at = (await doubles.ask<{ at: number }>(cmd)).at;
    this.#settle(c);
  }

  /** Resolves when nothing is pending or `limitMs` has passed. */
  async drain(limitMs: number): Promise<void> {
    const until = Date.now() + limitMs;
    while (this.#pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  /** The times so far; pending changes count as missed. Clears the record. */
  take(): ChangeTimes {
    const answer: number[] = [];
    const answerHot: number[] = [];
    const answerCold: number[] = [];
    const woken: number[] = [];
    const byKind: Record<string, number[]> = {};
    let missed = 0;
    for (const c of [...this.#done, ...this.#pending.values()]) {
      for (const r of this.#replicas) {
        const seen = c.seen.get(r);
        const wake = c.woken.get(r);
        if (wake !== undefined) woken.push(Math.max(0, wake - c.at));
        if (seen === undefined || Number.isNaN(c.at)) {
          missed++;
          continue;
        }
        const ms = Math.max(0, seen - c.at);
        answer.push(ms);
        (c.hot ? answerHot : answerCold).push(ms);
        (byKind[`${c.kind}${c.hot ? ' (hot)' : ''}`] ??= []).push(ms);
      }
    }
    this.#done.length = 0;
    this.#pending.clear();
    return { answer, answerHot, answerCold, woken, byKind, missed };
  }
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
