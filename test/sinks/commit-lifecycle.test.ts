/**
 * The commit lifecycle (src/sinks/commit-lifecycle.ts): the classifier, the recovery rules, and
 * the one commit sink crashed at every filesystem step of a two-file commit, exhaustively: after
 * any crash, a restart classifies every file, recovers, commits what is not committed, and the item
 * ends committed exactly once with both files whole.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  classify,
  classifyFolder,
  CommitSink,
  itemsMatching,
  itemsNamed,
  NOTHING_COMMITTED,
  publishedState,
  recoverFolder,
  type CommitState,
} from '../../src/sinks/commit-lifecycle.js';
import { Journal, loadJournal } from '../../src/sinks/journal.js';
import { isTmpName } from '../../src/fs/publish-atomically.js';
import { instrumentFs, type FsCall } from '../../src/fs/fs-layer.js';
import { crashingFs, fastTempDir, noSyncFs, onlyCrash } from './crash-fs.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await fastTempDir('tickpipe-lifecycle-'));
});
afterEach(async () => cleanup());

const SHARDS = itemsMatching(/^shard-\d{6}\.parquet$/);

describe('classify', () => {
  it('tmp → in progress (with the item its final name holds), named → committed, else pending, foreign → undefined', () => {
    const committed = new Set(['shard-000000.parquet']);
    expect(classify('/d', 'shard-000000.parquet', SHARDS, committed)).toEqual({ state: 'committed', item: 'shard-000000.parquet', paths: ['/d/shard-000000.parquet'] });
    expect(classify('/d', 'shard-000001.parquet', SHARDS, committed)).toEqual({ state: 'pending', item: 'shard-000001.parquet', paths: ['/d/shard-000001.parquet'] });
    expect(classify('/d', 'shard-000002.parquet.tmp-0123456789ab', SHARDS, committed)).toEqual({
      state: 'in-progress',
      path: '/d/shard-000002.parquet.tmp-0123456789ab',
      finalName: 'shard-000002.parquet',
      item: 'shard-000002.parquet',
    });
    expect(classify('/d', 'notes.txt.tmp-0123456789ab', SHARDS, committed)).toMatchObject({ state: 'in-progress', item: undefined });
    expect(classify('/d', 'notes.txt', SHARDS, committed)).toBeUndefined();
    expect(classify('/d', 'shard-000003.parquet.tmp-xyz', SHARDS, committed)).toBeUndefined(); // not a tmp name, not a shard
    expect(publishedState('E1', new Set(['E1']))).toBe('committed');
    expect(publishedState('E2', NOTHING_COMMITTED)).toBe('pending');
  });
});

describe('recoverFolder', () => {
  async function leftovers(): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const n of ['shard-000000.parquet', 'shard-000001.parquet', 'shard-000002.parquet.tmp-0123456789ab', 'notes.txt', 'notes.txt.tmp-0123456789ab']) {
      await writeFile(join(dir, n), n);
    }
  }

  it('in progress → removed (only the sink\'s), pending → the rule, committed → kept', async () => {
    await leftovers();
    const r = await recoverFolder(dir, SHARDS, new Set(['shard-000000.parquet']), { moveAsideTo: join(dir, '.uncommitted') });
    expect(r).toEqual({ tmpRemoved: ['shard-000002.parquet.tmp-0123456789ab'], pending: ['shard-000001.parquet'] });
    expect((await readdir(dir)).sort()).toEqual(['.uncommitted', 'notes.txt', 'notes.txt.tmp-0123456789ab', 'shard-000000.parquet']);
    expect(await readdir(join(dir, '.uncommitted'))).toEqual([expect.stringMatching(/^shard-000001\.parquet\.uncommitted-[0-9a-f]{8}$/)]);
  });

  it("'delete' removes pending files, 'overwrite' leaves them for the next publish", async () => {
    await leftovers();
    expect(await recoverFolder(dir, SHARDS, NOTHING_COMMITTED, 'overwrite')).toEqual({ tmpRemoved: ['shard-000002.parquet.tmp-0123456789ab'], pending: [] });
    expect(await readdir(dir)).toContain('shard-000001.parquet');
    expect(await recoverFolder(dir, SHARDS, new Set(['shard-000000.parquet']), 'delete')).toEqual({ tmpRemoved: [], pending: ['shard-000001.parquet'] });
    expect((await readdir(dir)).sort()).toEqual(['notes.txt', 'notes.txt.tmp-0123456789ab', 'shard-000000.parquet']);
  });

  it('a missing folder holds nothing; a bad rule is refused', async () => {
    expect(await recoverFolder(join(dir, 'nope'), SHARDS, NOTHING_COMMITTED, 'delete')).toEqual({ tmpRemoved: [], pending: [] });
    await expect(recoverFolder(dir, SHARDS, NOTHING_COMMITTED, 'move' as never)).rejects.toMatchObject({ code: 'E_INPUT' });
  });
});

interface Line {
  readonly item: string;
  readonly sizes: readonly number[];
}

const FILES = ['a.bin', 'b.bin'] as const;
const content = (name: string): string => `${name}: ${'x'.repeat(100)}\n`;

/** One process: open the journal, recover the item's folder, commit it unless the journal names it. */
async function runProcess(out: string, fs: ReturnType<typeof crashingFs> | undefined): Promise<'done' | 'crashed'> {
  const itemDir = join(out, 'item');
  const journalPath = join(out, 'journal.jsonl');
  const opts = fs ? { fs } : {};
  let journal: Journal<Line> | undefined;
  try {
    const loaded = await Journal.load<Line>(journalPath, opts);
    journal = loaded.journal;
    const committed = new Set(loaded.entries.map((l) => l.item));
    await recoverFolder(itemDir, itemsNamed(FILES, 'I'), committed, 'overwrite', fs);
    if (!committed.has('I')) {
      const sink = new CommitSink(journal, opts);
      await sink.commit(
        FILES.map((n) => ({ path: join(itemDir, n), write: async (tmp: string) => (await writeFile(tmp, content(n)), content(n).length) })),
        (sizes) => ({ item: 'I', sizes }),
      );
    }
    await journal.close();
    return 'done';
  } catch (err) {
    onlyCrash(err);
    await journal?.close().catch(() => undefined);
    return 'crashed';
  }
}

/** Every file of the item folder classified against the journal as it is on disk now. */
async function statesOnDisk(out: string): Promise<{ lines: Line[]; states: Array<CommitState<string>> }> {
  const { entries } = await loadJournal<Line>(join(out, 'journal.jsonl'));
  const states = await classifyFolder(join(out, 'item'), itemsNamed(FILES, 'I'), new Set(entries.map((l) => l.item)));
  return { lines: entries, states };
}

describe('CommitSink under a crash at every step', () => {
  it('a journal line only ever names whole files; a restart ends with the item committed once', async () => {
    // Steps of one whole process, counted without a crash.
    const probe = crashingFs(undefined);
    expect(await runProcess(join(dir, 'probe'), probe)).toBe('done');
    const steps = probe.steps;
    expect(steps).toBeGreaterThan(10);
    const seen = new Set<string>();
    for (let step = 0; step < steps; step++) {
      for (const torn of [false, true]) {
        const out = join(dir, `s${step}-${torn ? 't' : 'c'}`);
        const fs = crashingFs({ step, torn });
        expect(await runProcess(out, fs)).toBe('crashed');
        const after = await statesOnDisk(out);
        // The commit point: a line exists only once both files are published in full.
        for (const l of after.lines) {
          for (const n of FILES) expect(await readFile(join(out, 'item', n), 'utf8'), `step ${step} (${fs.crashed?.op})`).toBe(content(n));
          expect(l).toEqual({ item: 'I', sizes: FILES.map((n) => content(n).length) });
        }
        for (const s of after.states) {
          seen.add(s.state);
          if (s.state !== 'in-progress') expect(s.state).toBe(after.lines.length > 0 ? 'committed' : 'pending');
        }
        // Restart without a crash: recovered, committed exactly once, nothing in progress left.
        expect(await runProcess(out, undefined)).toBe('done');
        const done = await statesOnDisk(out);
        expect(done.lines).toEqual([{ item: 'I', sizes: FILES.map((n) => content(n).length) }]);
        expect(done.states.map((s) => s.state)).toEqual(['committed', 'committed']);
        expect((await readdir(join(out, 'item'))).filter(isTmpName)).toEqual([]);
      }
    }
    // The crashes reached every state.
    expect([...seen].sort()).toEqual(['committed', 'in-progress', 'pending']);
  }, 120_000);
});

describe('CommitSink: the fsync order', () => {
  it('each tmp is fsync\'d before its rename, the folder after both renames, the journal line written and fsync\'d last', async () => {
    const calls: FsCall[] = [];
    const fs = instrumentFs(noSyncFs, (c) => void calls.push(c));
    const out = join(dir, 'order');
    expect(await runProcess(out, fs)).toBe('done');
    const itemDir = join(out, 'item');
    const journalPath = join(out, 'journal.jsonl');
    const at = (pred: (c: FsCall) => boolean, what: string): number => {
      const i = calls.findIndex(pred);
      expect(i, what).toBeGreaterThanOrEqual(0);
      return i;
    };
    const renames = FILES.map((n) => at((c) => c.op === 'rename' && c.path2 === join(itemDir, n), `rename onto ${n}`));
    FILES.forEach((n, k) => {
      const tmp = calls[renames[k]!]!.path;
      expect(isTmpName(tmp.slice(itemDir.length + 1))).toBe(true);
      expect(at((c) => c.op === 'handle.sync' && c.path === tmp, `fsync of ${tmp}`)).toBeLessThan(renames[k]!);
    });
    const lineWrite = at((c) => c.op === 'handle.write' && c.path === journalPath, 'journal write');
    // Each rename made durable by a folder fsync before the journal line is written.
    for (const r of renames) {
      expect(calls.findIndex((c, i) => i > r && i < lineWrite && c.op === 'fsyncDir' && c.path === itemDir), `folder fsync after rename #${r}`).toBeGreaterThan(r);
    }
    expect(calls.findIndex((c, i) => i > lineWrite && c.op === 'handle.sync' && c.path === journalPath)).toBeGreaterThan(lineWrite);
  });
});
