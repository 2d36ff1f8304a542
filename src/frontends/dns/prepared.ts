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
  /** Sizes summed once when the answer is built, so a reply that needs no trimming is sized without a walk. */
  readonly layout: Layout;
}

export interface Layout {
  /** Bytes of every answer plus every linked record an answer links (each once). */
  readonly answersAndLinks: number;
  readonly authority: number;
  readonly extra: number;
  /** No linked record is linked by two answers: the links can be written without de-duplication. */
  readonly disjointLinks: boolean;
  /** Per answer: its bytes plus its linked records' bytes (what it adds to a reply when links are disjoint). */
  readonly units: readonly number[];
}

const sum = (chunks: readonly Chunk[]): number => chunks.reduce((n, c) => n + c.bytes.length, 0);

export function layoutOf(p: Pick<Prepared, 'answers' | 'authority' | 'linked' | 'extra'>): Layout {
  const linkedBy = new Uint32Array(p.linked.length);
  let answersAndLinks = sum(p.answers);
  for (const a of p.answers) {
    for (const l of a.links) if (linkedBy[l]!++ === 0) answersAndLinks += p.linked[l]!.bytes.length;
  }
  return {
    answersAndLinks,
    authority: sum(p.authority),
    extra: sum(p.extra),
    disjointLinks: linkedBy.every((n) => n <= 1),
    units: p.answers.map((a) => a.links.reduce((n, l) => n + p.linked[l]!.bytes.length, a.bytes.length)),
  };
}

export function chunk(bytes: Buffer, ownerExtra = 0, links: readonly number[] = [], serialAt = -1): Chunk {
  return { bytes, ownerExtra, links, serialAt };
}
