// A prepared answer: every record already encoded, kept per record so that a query only has to
// pick an order, trim to its size limit and copy bytes (assemble.ts). Built once per change of
// the world for a (name, type, content version) and cached (answer-cache.ts).

export interface Chunk {
  readonly bytes: Buffer;
  /** Extra bytes this record would take with its owner name written out (owner is a pointer to the question). */
  readonly ownerExtra: number;
  /** Indexes into `Prepared.linked` of the additional records that go with this answer (SRV target addresses, node TXT). */
  readonly links: readonly number[];
  /** Offset of an SOA serial inside `bytes`, patched with the current time per query; -1 if none. */
  readonly serialAt: number;
}

/** Answer limits differ by kind: `a_record_limit` applies to A/AAAA, TCP caps SRV at 1024 and others at 4096. */
export type AnswerKind = 'address' | 'srv' | 'other';

export interface Prepared {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly kind: AnswerKind;
  /** Answers to shuffle per query (Consul shuffles service instances on every query). */
  readonly shuffle: boolean;
  /** The answer differs by caller: an ECS-named caller gets a full-address ECS scope. */
  readonly callerScoped: boolean;
  readonly answers: readonly Chunk[];
  readonly authority: readonly Chunk[];
  /** Additional records that appear only if an answer linking them survives trimming. */
  readonly linked: readonly Chunk[];
  /** Additional records that always appear (NS glue, the record of an .addr name asked with another type). */
  readonly extra: readonly Chunk[];
}

export function chunk(bytes: Buffer, ownerExtra = 0, links: readonly number[] = [], serialAt = -1): Chunk {
  return { bytes, ownerExtra, links, serialAt };
}
