import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactIdSet, hashString, type IdHash } from '../../src/sinks/id-set.js';
import { CANONICAL_ID_PACKER, CSV_LINE_PACKER } from '../../src/sinks/key-packers.js';
import { canonicalEventIdAt } from '../../src/streams/event-id.js';

/** A 2-bit hash: almost every probe collides, so only the stored records can tell IDs apart. */
const tinyHash: IdHash = (s) => {
  const h = hashString(s);
  return h < 0 ? h : h & 3;
};

/** Canonical IDs and near misses (upper-case hex, a letter in the stamp, short, empty prefix, wide). */
const ID = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('A_x', 'BRK.B_flush', 'A_x_y', 'Z_opening_range_break'), fc.stringMatching(/^\d{8}_\d{6}$/), fc.stringMatching(/^[0-9a-f]{8}$/)).map(([p, s, h]) => `${p}_${s}_${h}`) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]_x_\d{8}_\d{6}_[0-9A-F]{8}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]_x_\d{7}[a-z]_\d{6}_[0-9a-f]{8}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^_\d{8}_\d{6}_[0-9a-f]{8}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^\d{8}_\d{6}_[0-9a-f]{8}$/) },
  { weight: 1, arbitrary: fc.constantFrom('Ä_x_20240102_144500_0000000a', '\u4e2d_x_20240102_144500_0000000a', 'A_x_00000000_000000_00000000', 'A_x_99999999_235959_ffffffff') },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

describe('CompactIdSet with packed canonical IDs', () => {
  it('answers exactly like a Set, through forced hash collisions, growth and a sections round trip', () => {
    fc.assert(
      fc.property(fc.array(ID, { maxLength: 200 }), fc.array(ID, { maxLength: 60 }), fc.array(ID, { maxLength: 60 }), fc.boolean(), (added, later, probes, tiny) => {
        const hash = tiny ? tinyHash : hashString;
        const set = new CompactIdSet(4, hash, CANONICAL_ID_PACKER);
        const ref = new Set<string>();
        for (const s of added) expect(set.add(s)).toBe(!ref.has(s) && ref.add(s) !== undefined);
        // What the committed index stores and reads back (views, no copy), then appended to.
        const back = CompactIdSet.fromSections(set.sections(), hash, CANONICAL_ID_PACKER);
        for (const s of later) expect(back.add(s)).toBe(!ref.has(s) && ref.add(s) !== undefined);
        expect(back.size).toBe(ref.size);
        for (const s of [...added, ...later, ...probes]) expect(back.has(s)).toBe(ref.has(s));
        expect(new Set(back)).toEqual(ref);
        for (let k = 0; k < back.poolEntries; k++) expect(back.indexOf(back.entryAt(k))).toBe(k);
        // The entries added after the read-back (kept apart until written) are merged in the same order.
        const direct = new CompactIdSet(4, hash, CANONICAL_ID_PACKER);
        for (const s of [...added, ...later]) direct.add(s);
        expect(back.prefixDigest(direct.poolEntries)).toBe(direct.prefixDigest(direct.poolEntries));
        expect([...CompactIdSet.fromSections(back.sections(), hash, CANONICAL_ID_PACKER)]).toEqual([...direct]);
      }),
      { numRuns: 300 },
    );
  });

  it('stores a canonical ID packed and gives back exactly its characters', () => {
    fc.assert(
      fc.property(fc.constantFrom('A', 'BRK.B', 'X_Y'), fc.constantFrom('flush', 'opening_range_break'), fc.integer({ min: -2_208_988_800, max: 4_102_444_799 }), fc.integer({ min: 0, max: 999_999 }), (symbol, type, sec, micros) => {
        const id = canonicalEventIdAt(symbol, type, sec, micros);
        expect(CANONICAL_ID_PACKER.prefixEnd(Buffer.from(id, 'latin1'), 0, id.length)).toBe(`${symbol}_${type}`.length);
        const set = new CompactIdSet(4, hashString, CANONICAL_ID_PACKER);
        set.add(id);
        expect(set.entryAt(0)).toBe(id);
        expect(set.sections().pool.length).toBe(14);
      }),
    );
  });

  it('prefixDigest tells apart sets whose packed bytes agree but whose prefixes differ', () => {
    const a = new CompactIdSet(4, hashString, CANONICAL_ID_PACKER);
    const b = new CompactIdSet(4, hashString, CANONICAL_ID_PACKER);
    a.add('A_x_20240102_144500_0000000a');
    b.add('B_x_20240102_144500_0000000a');
    expect(a.sections().pool).toEqual(b.sections().pool); // both prefix code 0
    expect(a.prefixDigest(1)).not.toBe(b.prefixDigest(1));
    // Same IDs in the same order: same digest, whatever was added after entry n.
    const c = new CompactIdSet(4, hashString, CANONICAL_ID_PACKER);
    c.add('A_x_20240102_144500_0000000a');
    c.add('C_y_20240102_144500_0000000b');
    expect(c.prefixDigest(1)).toBe(a.prefixDigest(1));
    // A raw entry and a packed one of the same bytes are not the same entry.
    const raw = new CompactIdSet(4, hashString);
    raw.add('A_x_20240102_144500_0000000a');
    expect(raw.prefixDigest(1)).not.toBe(a.prefixDigest(1));
  });

  it('probes raw bytes like strings (the key file probes bytes)', () => {
    fc.assert(
      fc.property(fc.array(ID, { maxLength: 50 }), ID, (added, probe) => {
        const set = new CompactIdSet(4, tinyHash, CANONICAL_ID_PACKER);
        for (const s of added) set.add(s);
        if (hashString(probe) < 0) return;
        const buf = Buffer.from(`xx${probe}yy`, 'latin1');
        expect(set.indexOfBytes(buf, 2, 2 + probe.length)).toBe(set.indexOf(probe));
      }),
    );
  });
});

/** CSV manifest lines and near misses: odd and even time lengths, `Z`, no comma, an empty or long last cell. */
const LINE = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('XA,flush', 'B,vwap_break', 'X,y,z', ''), fc.stringMatching(/^[0-9:T+ .-]{0,30}$/)).map(([p, t]) => `${p},${t}`) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z],x,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z],x,\d{65,70}$/) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

describe('CompactIdSet with packed CSV lines (the key file)', () => {
  it('answers exactly like a Set, by string and by bytes, through forced collisions and a sections round trip', () => {
    fc.assert(
      fc.property(fc.array(LINE, { maxLength: 150 }), fc.array(LINE, { maxLength: 40 }), fc.array(LINE, { maxLength: 40 }), fc.boolean(), (added, later, probes, tiny) => {
        const hash = tiny ? tinyHash : hashString;
        const set = new CompactIdSet(4, hash, CSV_LINE_PACKER);
        const ref = new Set<string>();
        for (const s of added) expect(set.add(s)).toBe(!ref.has(s) && ref.add(s) !== undefined);
        const back = CompactIdSet.fromSections(set.sections(), hash, CSV_LINE_PACKER);
        for (const s of later) expect(back.add(s)).toBe(!ref.has(s) && ref.add(s) !== undefined);
        for (const s of [...added, ...later, ...probes]) {
          expect(back.has(s)).toBe(ref.has(s));
          if (hashString(s) >= 0) expect(back.indexOfBytes(Buffer.from(`,${s}\n`, 'latin1'), 1, 1 + s.length)).toBe(back.indexOf(s));
        }
        expect(new Set(back)).toEqual(ref);
      }),
      { numRuns: 300 },
    );
  });

  it('packs a tickpipe manifest line into 18 bytes', () => {
    const set = new CompactIdSet(4, hashString, CSV_LINE_PACKER);
    set.add('XA,opening_range_break,2024-01-02T14:45:00+00:00');
    expect(set.sections().pool.length).toBe(18);
    expect(set.entryAt(0)).toBe('XA,opening_range_break,2024-01-02T14:45:00+00:00');
  });
});
