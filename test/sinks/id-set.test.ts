import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { CompactIdSet, hashString } from '../../src/sinks/id-set.js';
import { readCacheBytes } from '../../src/sinks/cache-file.js';
import { CANONICAL_ID_PACKER } from '../../src/sinks/key-packers.js';
import { Journal, loadJournal } from '../../src/sinks/journal.js';
import { scanWindowJournal } from '../../src/run-folder/journal-reader.js';
import { loadIngestState } from '../../src/sinks/window-sink.js';
import { mkdir } from 'node:fs/promises';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-idset-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Two different ASCII strings with the same 32-bit FNV-1a hash, found by brute force. */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const s = `AAPL_flush_20240311_150000_${i.toString(16).padStart(8, '0')}`;
    const h = hashString(s);
    const other = seen.get(h);
    if (other !== undefined) return [other, s];
    seen.set(h, s);
  }
}

describe('CompactIdSet', () => {
  it('answers exactly like a Set for arbitrary strings (including non-Latin-1 ones)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 300 }), fc.array(fc.string({ maxLength: 12 }), { maxLength: 100 }), (added, probes) => {
        const set = new CompactIdSet(4); // tiny, so growth and rehashing are exercised
        const ref = new Set<string>();
        for (const s of added) expect(set.add(s)).toBe(!ref.has(s) && ref.add(s) !== undefined);
        expect(set.size).toBe(ref.size);
        for (const s of [...added, ...probes]) expect(set.has(s)).toBe(ref.has(s));
        expect(new Set(set)).toEqual(ref);
      }),
      { numRuns: 200 },
    );
  });

  it('a hash collision never reports an ID that was not added (the full bytes decide)', () => {
    const [a, b] = collidingPair();
    expect(hashString(a)).toBe(hashString(b));
    const set = new CompactIdSet();
    set.add(a);
    expect(set.has(a)).toBe(true);
    expect(set.has(b)).toBe(false);
    expect(set.add(b)).toBe(true);
    expect(set.has(b)).toBe(true);
    expect(set.size).toBe(2);
    expect(set.indexOf(a)).not.toBe(set.indexOf(b));
  });
});

const LINE = fc.oneof(
  // the shape tickpipe writes
  fc.record({ event: fc.stringMatching(/^[A-Z]{1,4}_[a-z_]{1,8}_\d{8}_\d{6}_[0-9a-f]{8}$/), symbol: fc.constantFrom('A', 'BRK.B'), trades: fc.nat(), quotes: fc.nat() }).map((o) => JSON.stringify(o)),
  // other valid shapes: key order, extra keys, escapes, spaces
  fc.record({ quotes: fc.nat(), event: fc.string({ minLength: 1, maxLength: 10 }), x: fc.boolean() }).map((o) => JSON.stringify(o)),
  fc.string({ minLength: 1, maxLength: 8 }).map((e) => ` { "event" : ${JSON.stringify(e)} , "trades": 1 } `),
  fc.constant(''),
);

describe('CompactIdSet.release and the cache file bytes it is read from', () => {
  it('gives the file bytes back, once, and refuses every later use rather than answer "absent"', async () => {
    const ids = ['AAPL_flush_20231207_130200_1a2b3c4d', 'MSFT_flush_20231207_130200_00000001', 'odd id'];
    const built = new CompactIdSet(4, hashString, CANONICAL_ID_PACKER);
    for (const id of ids) built.add(id);
    // Written and read back as the committed index does: views of one file's bytes.
    const s = built.sections();
    const parts = [s.pool, s.packed!, new Uint8Array(s.starts.buffer, s.starts.byteOffset, s.starts.byteLength), new Uint8Array(s.hashes.buffer, s.hashes.byteOffset, s.hashes.byteLength), new Uint8Array(s.table.buffer, s.table.byteOffset, s.table.byteLength)];
    const path = join(dir, 'sections.bin');
    await writeFile(path, Buffer.concat(parts.map((a) => Buffer.concat([a, Buffer.alloc((4 - (a.length % 4)) % 4)]))));
    const file = await readCacheBytes(path);
    let at = 0;
    const take = <T>(C: new (b: ArrayBufferLike, o: number, n: number) => T, bytes: number, n: number): T => {
      const v = new C(file.buf.buffer, at, n);
      at += Math.ceil((n * bytes) / 4) * 4;
      return v;
    };
    const pool = take(Uint8Array, 1, s.pool.length);
    const packed = take(Uint8Array, 1, s.packed!.length);
    const starts = take(Uint32Array, 4, s.starts.length);
    const hashes = take(Uint32Array, 4, s.hashes.length);
    const table = take(Uint32Array, 4, s.table.length);
    let released = 0;
    const backing = { release: () => (released++, file.release()) };
    const set = CompactIdSet.fromSections({ pool, starts, hashes, table, wide: s.wide, packed, prefixes: s.prefixes! }, hashString, CANONICAL_ID_PACKER, backing);
    expect([...set].sort()).toEqual([...ids].sort());
    set.add('NVDA_flush_20231207_130200_00000002'); // an entry beyond the file's (the overflow)
    expect(set.has('NVDA_flush_20231207_130200_00000002')).toBe(true);

    set.release();
    set.release();
    expect(released, 'the backing is released once').toBe(1);
    expect(file.buf.length, 'the file bytes are gone (a resizable buffer shrunk to 0)').toBe(0);
    const uses: Array<() => unknown> = [
      () => set.has(ids[0]!),
      () => set.indexOf('nope'),
      () => set.indexOfBytes(Buffer.from(ids[0]!, 'latin1'), 0, ids[0]!.length),
      () => set.add('x'),
      () => set.sections(),
      () => set.prefixDigest(1),
      () => set.entryAt(0),
      () => [...set],
    ];
    for (const use of uses) expect(use).toThrow(/used after release/);
  });

  it('readCacheBytes reads the whole file, and a missing file rejects like readFile (ENOENT)', async () => {
    const path = join(dir, 'bytes.bin');
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await writeFile(path, body);
    const file = await readCacheBytes(path);
    expect(file.buf.byteOffset).toBe(0);
    expect(file.buf.equals(body)).toBe(true);
    file.release();
    expect(file.buf.length).toBe(0);
    await expect(readCacheBytes(join(dir, 'absent.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('scanWindowJournal', () => {
  it('reads the same events as loadJournal, with the same torn-tail rule', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(LINE, { maxLength: 30 }), fc.constantFrom('', '{"event":"X', '\u0000\u0000\n', '{"event":"Y","symbol":"A","trades":1,"quotes":2}'), async (lines, tail) => {
        const p = join(dir, `j${n++}.jsonl`);
        await writeFile(p, lines.map((l) => `${l}\n`).join('') + tail);
        const want = (await loadJournal<{ event: string }>(p)).entries.map((e) => e.event);
        const got: string[] = [];
        await scanWindowJournal(p, (l) => got.push(l.event));
        expect(got).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });

  it('an invalid line before the last is an InputError naming file and line, as loadJournal says', async () => {
    const p = join(dir, 'bad.jsonl');
    await writeFile(p, '{"event":"A","symbol":"A","trades":1,"quotes":1}\n{oops\n{"event":"B","symbol":"A","trades":1,"quotes":1}\n');
    const err = await scanWindowJournal(p, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(`${p}:2:`);
  });

  it('reads lines longer than its 1 MiB chunk', async () => {
    const p = join(dir, 'long.jsonl');
    const long = 'L'.repeat(3 << 20);
    await writeFile(p, `${JSON.stringify({ event: 'A', note: long })}\n${JSON.stringify({ event: long, symbol: 'A', trades: 2, quotes: 3 })}\n`);
    const got: Array<{ event: string; trades: number }> = [];
    await scanWindowJournal(p, (l) => got.push({ event: l.event, trades: l.trades }));
    expect(got).toEqual([
      { event: 'A', trades: Number.NaN },
      { event: long, trades: 2 },
    ]);
  });
});

describe('loadIngestState and Journal.open on a large journal', () => {
  it('loads 100,000 lines into the compact set and open() truncates only the torn tail', async () => {
    const ingest = join(dir, 'run', 'state', 'ingest');
    await mkdir(ingest, { recursive: true });
    const ids = Array.from({ length: 100_000 }, (_, i) => `S${i % 97}_flush_20240311_${String(i).padStart(6, '0')}_0000abcd`);
    const body = ids.map((event) => `${JSON.stringify({ event, symbol: 'S', trades: 1, quotes: 2 })}\n`).join('');
    const p = join(ingest, 'part-0.jsonl');
    await writeFile(p, `${body}{"event":"torn`);
    const state = await loadIngestState(join(dir, 'run'));
    expect(state.completed.size).toBe(ids.length);
    expect(ids.every((id) => state.completed.has(id))).toBe(true);
    expect(state.completed.has('torn')).toBe(false);
    expect(state.completed.has(`${ids[5]!}x`)).toBe(false);
    const j = await Journal.open<{ event: string }>(p);
    await j.append({ event: 'next' });
    await j.close();
    expect(await readFile(p, 'utf8')).toBe(`${body}{"event":"next"}\n`);
  });
});
