import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskError, InputError } from '../../src/errors.js';
import { instrumentFs, nodeFs, SimulatedCrash } from '../../src/fs/fs-layer.js';
import { Journal, loadJournal } from '../../src/sinks/journal.js';
import { errno, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

interface E {
  readonly i: number;
}

describe('Journal', () => {
  it('appends NDJSON lines, creates the folder, loads them back', async () => {
    const p = join(dir, 'state', 'j.jsonl');
    const j = await Journal.open<E>(p);
    for (let i = 0; i < 5; i++) await j.append({ i });
    await j.close();
    expect(await readFile(p, 'utf8')).toBe('{"i":0}\n{"i":1}\n{"i":2}\n{"i":3}\n{"i":4}\n');
    expect(await loadJournal<E>(p)).toEqual({ entries: [0, 1, 2, 3, 4].map((i) => ({ i })), tornTail: false, validBytes: 40 });
  });

  it('a missing file loads as empty', async () => {
    expect((await loadJournal(join(dir, 'nope.jsonl'))).entries).toEqual([]);
  });

  it('groupCommitMs 0: each append resolves only after an fsync that covers it', async () => {
    let synced = 0;
    let written = 0;
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'handle.sync') synced = written;
      if (c.op === 'handle.write') written += String(c.data).split('\n').length - 1;
    });
    const j = await Journal.open<E>(join(dir, 'j.jsonl'), { fs });
    const resolvedWhenSynced: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => j.append({ i }).then(() => resolvedWhenSynced.push(synced))),
    );
    // Every resolution happened when at least one more line than before was fsync'd, and all 20 are on disk.
    expect(resolvedWhenSynced.every((n) => n >= 1)).toBe(true);
    expect(synced).toBe(20);
    await j.close();
  });

  it('group commit: many appends share one fsync, each resolves only after it', async () => {
    let syncs = 0;
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'handle.sync') syncs++;
    });
    const j = await Journal.open<E>(join(dir, 'g.jsonl'), { fs, groupCommitMs: 50 });
    const syncsAtResolve: number[] = [];
    const t0 = performance.now();
    const ps = Array.from({ length: 100 }, (_, i) => j.append({ i }).then(() => syncsAtResolve.push(syncs)));
    await new Promise((r) => setTimeout(r, 10));
    expect(syncsAtResolve).toEqual([]); // nothing durable yet, nothing resolved
    expect(j.pending).toBe(100);
    await Promise.all(ps);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(syncs).toBe(1);
    expect(syncsAtResolve.every((s) => s === 1)).toBe(true);
    // a second wave gets its own fsync
    await Promise.all([j.append({ i: 100 }), j.append({ i: 101 })]);
    expect(syncs).toBe(2);
    await j.close();
    expect((await loadJournal<E>(join(dir, 'g.jsonl'))).entries).toHaveLength(102);
  });

  it('close() flushes pending group-committed appends', async () => {
    const j = await Journal.open<E>(join(dir, 'c.jsonl'), { groupCommitMs: 10_000 });
    const p = j.append({ i: 1 });
    await j.close();
    await p;
    expect((await loadJournal<E>(join(dir, 'c.jsonl'))).entries).toEqual([{ i: 1 }]);
    await expect(j.append({ i: 2 })).rejects.toThrow(/closed/);
  });

  it('torn tail without newline is ignored on load and truncated on reopen', async () => {
    const p = join(dir, 't.jsonl');
    await writeFile(p, '{"i":0}\n{"i":1}\n{"i":');
    expect(await loadJournal<E>(p)).toEqual({ entries: [{ i: 0 }, { i: 1 }], tornTail: true, validBytes: 16 });
    const j = await Journal.open<E>(p);
    await j.append({ i: 2 });
    await j.close();
    expect(await readFile(p, 'utf8')).toBe('{"i":0}\n{"i":1}\n{"i":2}\n');
  });

  it('a complete-looking last line without newline is still torn (never acknowledged)', async () => {
    const p = join(dir, 't2.jsonl');
    await writeFile(p, '{"i":0}\n{"i":1}');
    expect((await loadJournal<E>(p)).entries).toEqual([{ i: 0 }]);
  });

  it('an invalid last line (garbage then newline) is torn too', async () => {
    const p = join(dir, 't3.jsonl');
    await writeFile(p, '{"i":0}\n\u0000\u0000\u0000\n');
    expect(await loadJournal<E>(p)).toMatchObject({ entries: [{ i: 0 }], tornTail: true });
    const j = await Journal.open<E>(p);
    await j.append({ i: 1 });
    await j.close();
    expect(await readFile(p, 'utf8')).toBe('{"i":0}\n{"i":1}\n');
  });

  it('invalid JSON on a non-last line is an InputError naming file and line', async () => {
    const p = join(dir, 'bad.jsonl');
    await writeFile(p, '{"i":0}\n{oops\n{"i":2}\n');
    const err = await loadJournal(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(`${p}:2:`);
  });

  it('a line holding two values is invalid', async () => {
    const p = join(dir, 'two.jsonl');
    await writeFile(p, '{"i":0}\n1,2\n{"i":2}\n');
    await expect(loadJournal(p)).rejects.toThrow(`${p}:2:`);
  });

  it('a crash mid-append (torn write) leaves a tail the next open truncates', async () => {
    const p = join(dir, 'crash.jsonl');
    const j0 = await Journal.open<E>(p);
    await j0.append({ i: 0 });
    await j0.close();
    const fs = instrumentFs(nodeFs, (c) => (c.op === 'handle.write' ? { partial: 4 } : undefined));
    const j = await Journal.open<E>(p, { fs });
    await expect(j.append({ i: 1 })).rejects.toBeInstanceOf(SimulatedCrash);
    expect(await readFile(p, 'utf8')).toBe('{"i":0}\n{"i"');
    const again = await Journal.load<E>(p);
    expect(again.tornTail).toBe(true);
    expect(again.entries).toEqual([{ i: 0 }]);
    await j.close().catch(() => undefined); // the dead process's descriptor
    await again.journal.append({ i: 2 });
    await again.journal.close();
    expect(await readFile(p, 'utf8')).toBe('{"i":0}\n{"i":2}\n');
  });

  it('a failed fsync breaks the journal: pending and later appends reject with DiskError', async () => {
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'handle.sync') throw errno('EIO', 'fsync');
    });
    const j = await Journal.open<E>(join(dir, 'eio.jsonl'), { fs });
    const err = await j.append({ i: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toMatch(/I\/O error appending to .*eio\.jsonl \(EIO\)/);
    await expect(j.append({ i: 1 })).rejects.toBe(err);
    await j.close();
  });

  it('validates groupCommitMs up front', async () => {
    await expect(Journal.open(join(dir, 'v.jsonl'), { groupCommitMs: -1 })).rejects.toBeInstanceOf(InputError);
  });

  it('loads 600,000 short lines (prints the time)', async () => {
    const p = join(dir, 'big.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 600_000; i++) {
      lines.push(JSON.stringify({ event: `SYM${i % 3000}_flush_20231207_130200_${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}`, trades: i % 977, quotes: i % 3001 }));
    }
    await writeFile(p, lines.join('\n') + '\n');
    await appendFile(p, '{"event":"torn');
    const t0 = performance.now();
    const { entries, tornTail } = await loadJournal<{ event: string }>(p);
    const ms = performance.now() - t0;
    const ids = new Set(entries.map((e) => e.event));
    const ms2 = performance.now() - t0;
    console.log(`[journal] loadJournal of 600,000 lines (${(lines.join('\n').length / 1e6).toFixed(1)} MB): ${ms.toFixed(0)} ms; + Set of IDs: ${ms2.toFixed(0)} ms`);
    expect(entries).toHaveLength(600_000);
    expect(tornTail).toBe(true);
    expect(ids.size).toBeGreaterThan(0);
  });

  it('measures the fsync cost of one append (prints it)', async () => {
    const j = await Journal.open<E>(join(dir, 'cost.jsonl'));
    const n = 300;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await j.append({ i });
    const ms = (performance.now() - t0) / n;
    const j2 = await Journal.open<E>(join(dir, 'cost2.jsonl'), { groupCommitMs: 5 });
    const t1 = performance.now();
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => j2.append({ i })));
    const ms2 = performance.now() - t1;
    console.log(
      `[journal] sequential fsync'd append: ${ms.toFixed(3)} ms each; 10,000 concurrent appends with groupCommitMs=5: ${ms2.toFixed(0)} ms, ${j2.fsyncCount} fsyncs`,
    );
    await j.close();
    await j2.close();
  });
});
