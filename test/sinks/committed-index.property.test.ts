import fc from 'fast-check';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMITTED_INDEX_NAME, loadCommittedWindows, type CommittedWindows } from '../../src/sinks/committed-index.js';
import { nodeFs } from '../../src/fs/fs-layer.js';
import { hashString } from '../../src/sinks/id-set.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tickpipe-cidx-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const NAMES = ['part-0.jsonl', 'part-1.jsonl'] as const;
/** Collides almost always: the index must still never call an absent ID committed. */
const TINY = { name: 'tiny', fn: (s: string): number => s.length & 3 };
const FNV = { name: 'fnv1a32', fn: hashString };

/** A few IDs, so that journals repeat IDs and probes hit and miss. */
const ID = fc.constantFrom('A_x_20240102_144500_00000000', 'A_x_20240102_144500_00000001', 'BB_y_20240102_144500_0a', 'C_z_1', 'C_z_12', 'D_flush_20240311_150000_ffffffff');

type Op =
  | { kind: 'append'; part: 0 | 1; ids: string[]; trades: number }
  | { kind: 'torn'; part: 0 | 1 }
  | { kind: 'load'; release: boolean }
  | { kind: 'delete-index' }
  | { kind: 'restore-older'; part: 0 | 1 }
  | { kind: 'rewrite-same-length'; part: 0 | 1 };

const OP: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), part: fc.constantFrom(0 as const, 1 as const), ids: fc.array(ID, { minLength: 1, maxLength: 5 }), trades: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('torn' as const), part: fc.constantFrom(0 as const, 1 as const) }) },
  // release: the earlier load's set is given back first (as the ingest stage does when its manifest
  // pass ends): its memory is the index file's bytes, and a later load must not depend on them.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('load' as const), release: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete-index' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore-older' as const), part: fc.constantFrom(0 as const, 1 as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rewrite-same-length' as const), part: fc.constantFrom(0 as const, 1 as const) }) },
);

/** The journals read from their start without the index (any FsLayer other than nodeFs): the reference. */
async function reference(dir: string, names: readonly string[]): Promise<CommittedWindows | Error> {
  return loadCommittedWindows(dir, names, { fs: { ...nodeFs } }).catch((e: Error) => e);
}

async function existing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of NAMES) if (await stat(join(dir, n)).then(() => true, () => false)) out.push(n);
  return out;
}

/** Ends a torn tail before appending, as the journal writer does when it reopens a journal. */
async function dropTornTail(path: string): Promise<void> {
  const buf = await readFile(path).catch(() => Buffer.alloc(0));
  if (buf.length > 0 && buf[buf.length - 1] !== 0x0a) await truncate(path, buf.lastIndexOf(0x0a) + 1);
}

async function apply(dir: string, op: Op, backups: Map<number, string>, hash: typeof TINY, loads: { last?: CommittedWindows }): Promise<void> {
  const path = (p: number): string => join(dir, NAMES[p]!);
  switch (op.kind) {
    case 'append': {
      await dropTornTail(path(op.part));
      const exists = await stat(path(op.part)).then(() => true, () => false);
      if (exists && !backups.has(op.part)) {
        backups.set(op.part, join(dir, `backup-${op.part}`));
        await copyFile(path(op.part), backups.get(op.part)!);
      }
      await appendFile(path(op.part), op.ids.map((id) => `${JSON.stringify({ event: id, symbol: id.split('_')[0], trades: op.trades, quotes: 1 })}\n`).join(''));
      return;
    }
    case 'torn':
      await appendFile(path(op.part), '{"event":"TORN_');
      return;
    case 'load': {
      const names = await existing(dir);
      if (op.release && loads.last) {
        const released = loads.last.ids;
        released.release();
        // A released set refuses to answer: "absent" would mean "download it again".
        expect(() => released.has('A_1')).toThrow(/after release/);
        loads.last = undefined;
      }
      const got = await loadCommittedWindows(dir, names, { hash, rewriteAfterLines: 1 }).catch((e: Error) => e);
      loads.last = got instanceof Error ? undefined : got;
      const want = await reference(dir, names);
      if (want instanceof Error) {
        expect(got).toBeInstanceOf(Error);
        expect((got as Error).message).toBe(want.message);
        return;
      }
      if (got instanceof Error) throw got;
      expect([...got.ids].sort()).toEqual([...want.ids].sort());
      expect(got.lines).toBe(want.lines);
      // Row sums are over each ID's first line; with an ID journaled twice, which line is "first" may
      // differ (index prefixes are read before tails), so sums are compared when no ID repeats.
      if (want.lines === want.ids.size) {
        expect(got.trades).toBe(want.trades);
        expect(got.quotes).toBe(want.quotes);
      }
      // Exact membership: no absent ID is ever "done", whatever collides.
      for (const probe of ['A_x_20240102_144500_00000002', 'C_z_2', 'TORN_', 'BB_y_20240102_144500_0b', ...want.ids]) {
        expect(got.ids.has(probe)).toBe(want.ids.has(probe));
      }
      return;
    }
    case 'delete-index':
      await rm(join(dir, COMMITTED_INDEX_NAME), { force: true });
      return;
    case 'restore-older': {
      // A journal restored from a backup taken before later appends: the index now covers more than it holds.
      const b = backups.get(op.part);
      if (b) await copyFile(b, path(op.part));
      return;
    }
    case 'rewrite-same-length': {
      // Same length, other IDs: only the prefix digest can tell.
      const buf = await readFile(path(op.part)).catch(() => undefined);
      if (!buf) return;
      const text = buf.toString('latin1').replace(/"event":"([A-Z])/, (_m, c: string) => `"event":"${c === 'Q' ? 'R' : 'Q'}`);
      await writeFile(path(op.part), Buffer.from(text, 'latin1'));
      return;
    }
  }
}

describe('committed index (state/ingest/committed.idx)', () => {
  for (const hash of [TINY, FNV]) {
    it(`always agrees with reading the journals from their start (${hash.name} hash): appends, torn tails, stale and deleted index, earlier loads released`, async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(OP, { minLength: 1, maxLength: 25 }), async (ops) => {
          const dir = join(root, `${hash.name}-${n++}`);
          const backups = new Map<number, string>();
          try {
            await mkdir(dir, { recursive: true });
            const loads: { last?: CommittedWindows } = {};
            for (const op of [...ops, { kind: 'load' as const, release: true }]) await apply(dir, op, backups, hash, loads);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('is used on the next load and covers what it says; a journal that shrank makes it stale', async () => {
    const dir = join(root, 'plain');
    await mkdir(dir, { recursive: true });
    const line = (id: string): string => `${JSON.stringify({ event: id, symbol: 'A', trades: 2, quotes: 3 })}\n`;
    await writeFile(join(dir, 'part-0.jsonl'), line('A_1') + line('A_2') + line('A_1'));
    const first = await loadCommittedWindows(dir, ['part-0.jsonl'], { rewriteAfterLines: 1 });
    expect([first.index, first.indexWritten, first.lines, first.ids.size, first.trades]).toEqual(['absent', true, 3, 2, 4]);
    await appendFile(join(dir, 'part-0.jsonl'), line('A_3'));
    const second = await loadCommittedWindows(dir, ['part-0.jsonl'], { rewriteAfterLines: 1 });
    expect([second.index, second.lines, second.ids.size, second.trades, second.ids.has('A_3')]).toEqual(['used', 4, 3, 6, true]);
    await writeFile(join(dir, 'part-0.jsonl'), line('A_1'));
    const third = await loadCommittedWindows(dir, ['part-0.jsonl']);
    expect([third.index, third.ids.has('A_2'), third.ids.size]).toEqual(['stale', false, 1]);
  });
});
