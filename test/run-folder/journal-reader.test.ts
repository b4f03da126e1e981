/**
 * The one torn-tail rule (src/run-folder/journal-reader.ts) as each of its users applies it: the
 * pipeline's loadJournal, the operating commands' streamJournal, Journal.open's truncation; and
 * the journals' reading order.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { journalNamesInOrder, PART_JOURNAL_RE, streamJournal, WORKER_JOURNAL_RE } from '../../src/run-folder/index.js';
import { Journal, loadJournal } from '../../src/sinks/journal.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickpipe-journal-reader-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const A = '{"event":"A","symbol":"S","trades":1,"quotes":2}';
const B = '{"event":"B","symbol":"S","trades":3,"quotes":4}';

/** Every reader on one file: what it keeps, whether the tail is torn, and where the valid prefix ends. */
async function readAll(text: string) {
  const p = join(dir, 'part-0.jsonl');
  writeFileSync(p, text);
  const streamed: unknown[] = [];
  const s = await streamJournal(p, (v) => streamed.push(v));
  let loaded: { entries: unknown[]; tornTail: boolean; validBytes: number } | InputError;
  try {
    loaded = await loadJournal<unknown>(p);
  } catch (err) {
    loaded = err as InputError;
  }
  return { p, s, streamed, loaded };
}

describe('the torn-tail rule, once', () => {
  it.each([
    ['a line without newline', `${A}\n${B}`, [A], Buffer.byteLength(`${A}\n`)],
    ['a last line that is not JSON', `${A}\ngarbage\n`, [A], Buffer.byteLength(`${A}\n`)],
    ['a last non-JSON line followed by blank lines', `${A}\ngarbage\n\n \n`, [A], Buffer.byteLength(`${A}\n`)],
    ['zero bytes before a newline', `${A}\n\u0000\u0000\n`, [A], Buffer.byteLength(`${A}\n`)],
  ])('%s is a torn tail for every reader', async (_what, text, kept, validBytes) => {
    const { s, streamed, loaded } = await readAll(text);
    const want = kept.map((l) => JSON.parse(l));
    expect(streamed).toEqual(want);
    expect({ torn: s.tornTail, validBytes: s.validBytes, corrupt: s.corrupt.length }).toEqual({ torn: true, validBytes, corrupt: 0 });
    expect(loaded).toEqual({ entries: want, tornTail: true, validBytes });
  });

  it('an invalid line before the last is corruption: collected by streamJournal, refused by loadJournal', async () => {
    const { s, streamed, loaded } = await readAll(`${A}\ngarbage\n${B}\n`);
    expect(streamed).toEqual([JSON.parse(A), JSON.parse(B)]);
    expect(s.corrupt).toEqual([{ line: 2, text: 'garbage' }]);
    expect(s.tornTail).toBe(false);
    expect(loaded).toBeInstanceOf(InputError);
    expect((loaded as InputError).message).toMatch(/part-0\.jsonl:2: invalid journal line/);
  });

  it('Journal.open truncates exactly the torn tail, also when blank lines follow it', async () => {
    const p = join(dir, 'part-0.jsonl');
    writeFileSync(p, `${A}\ngarbage\n\n`);
    const j = await Journal.open<unknown>(p);
    await j.append(JSON.parse(B));
    await j.close();
    expect(readFileSync(p, 'utf8')).toBe(`${A}\n${B}\n`);
  });
});

describe('reading order', () => {
  it('journals are read by number, not by name', () => {
    expect(journalNamesInOrder(['part-10.jsonl', 'part-2.jsonl', 'part-1001.jsonl', 'part-0.jsonl', 'part-1.failed.jsonl', 'committed.idx'], PART_JOURNAL_RE)).toEqual([
      'part-0.jsonl',
      'part-2.jsonl',
      'part-10.jsonl',
      'part-1001.jsonl',
    ]);
    expect(journalNamesInOrder(['worker-1001.jsonl', 'worker-3.jsonl', 'worker-3.lock'], WORKER_JOURNAL_RE)).toEqual(['worker-3.jsonl', 'worker-1001.jsonl']);
  });
});
