import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PART_JOURNAL_RE, stateDirs, WORKER_JOURNAL_RE } from '../run-folder/layout.js';

interface Tail {
  offset: number;
}

/**
 * The set of items committed by *any* process of a run, kept current by reading only the bytes
 * appended to the journals since the last look (a 600k-line journal is read once, then by its
 * tail). BullMQ re-delivers a job whose worker died or stalled; checking this set right before the
 * work and again right before the commit is what keeps such a job from being written twice.
 *
 * A torn or unparsable line is ignored (the journal's owner truncates it on reopen); a journal that
 * shrank (truncated torn tail) is read again from the start, since the set only grows.
 */
export class CommittedIndex {
  readonly #dir: string;
  readonly #fileRe: RegExp;
  readonly #ids: (entry: unknown) => readonly string[];
  readonly #tails = new Map<string, Tail>();
  readonly #set = new Set<string>();
  #refreshing: Promise<void> | undefined;
  #lastRefresh = 0;

  /**
   * @param dir folder of the journals (`state/detect` or `state/ingest`)
   * @param fileRe journal file names to read
   * @param ids the committed item ids of one parsed line
   */
  constructor(dir: string, fileRe: RegExp, ids: (entry: unknown) => readonly string[]) {
    this.#dir = dir;
    this.#fileRe = fileRe;
    this.#ids = ids;
  }

  /** Stage-1 index: symbols of every stage-1 journal. */
  static detect(outDir: string): CommittedIndex {
    return new CommittedIndex(stateDirs(outDir).detect, WORKER_JOURNAL_RE, (e) => {
      const s = (e as { symbols?: unknown }).symbols;
      return Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : [];
    });
  }

  /** Stage-2 index: event IDs of every stage-2 journal. */
  static ingest(outDir: string): CommittedIndex {
    return new CommittedIndex(stateDirs(outDir).ingest, PART_JOURNAL_RE, (e) => {
      const id = (e as { event?: unknown }).event;
      return typeof id === 'string' ? [id] : [];
    });
  }

  has(id: string): boolean {
    return this.#set.has(id);
  }

  get size(): number {
    return this.#set.size;
  }

  /** Marks an id committed by this process (after its own journal line is durable). */
  add(id: string): void {
    this.#set.add(id);
  }

  /**
   * Reads what every journal gained since the last refresh. Concurrent callers share one read;
   * with `maxAgeMs`, a refresh younger than that is reused.
   */
  async refresh(maxAgeMs = 0): Promise<void> {
    if (this.#refreshing) {
      // A read already under way may have passed a file before its last line landed: a caller that
      // needs what is on disk *now* waits for it and reads again.
      if (maxAgeMs > 0) return this.#refreshing;
      await this.#refreshing.catch(() => undefined);
      // One started after ours ended is fresh enough to share.
      const again = this.#refreshing as Promise<void> | undefined;
      if (again) return again;
    }
    if (maxAgeMs > 0 && Date.now() - this.#lastRefresh < maxAgeMs) return;
    this.#refreshing = this.#readAll().finally(() => {
      this.#refreshing = undefined;
      this.#lastRefresh = Date.now();
    });
    return this.#refreshing;
  }

  async #readAll(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => this.#fileRe.test(n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const n of names) await this.#readTail(n);
  }

  async #readTail(name: string): Promise<void> {
    const tail = this.#tails.get(name) ?? { offset: 0 };
    this.#tails.set(name, tail);
    const fh = await open(join(this.#dir, name), 'r');
    try {
      const { size } = await fh.stat();
      if (size < tail.offset) tail.offset = 0;
      if (size === tail.offset) return;
      const buf = Buffer.alloc(size - tail.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, tail.offset);
      const end = buf.lastIndexOf(0x0a, bytesRead - 1) + 1;
      if (end === 0) return;
      const text = buf.toString('utf8', 0, end);
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          for (const id of this.#ids(JSON.parse(line))) this.#set.add(id);
        } catch {
          // torn or corrupt: the owner truncates it when it reopens the journal
        }
      }
      tail.offset += end;
    } finally {
      await fh.close();
    }
  }
}
