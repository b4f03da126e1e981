/**
 * Incremental compaction during a long ingest: a symbol is compacted as soon as every window of it
 * that this run started is settled (committed or failed) and ingest has moved on to a later symbol.
 *
 * The rule relies on the order the manifest is read in: `consolidate` writes it sorted by symbol
 * (then time), and stage 2 starts windows in manifest order, so the first window of symbol T closes
 * every symbol started before it. A closed symbol with no window in flight is ready. Ready symbols
 * are compacted in the background by {@link compact} itself (same journal, lock and commit
 * protocol, so a kill at any point is finished by the next compaction), one compaction at a time and
 * at most one every `minIntervalMs` (each compaction re-reads the stage-2 journals, so back-to-back
 * runs would spend the CPU the download needs). Compaction's file work is Polars' lazy
 * `sinkParquet`, off the event loop; a part is at most {@link DEFAULT_MAX_PART_ROWS} rows.
 *
 * A symbol met again after it was closed (a hand-made, unsorted CSV manifest) is reopened; if it was
 * already compacted, its later windows become a further part at the end of ingest: correct, only one
 * more file. Windows done before this run (never started now) and the last symbol are left to the
 * compaction at the end of ingest.
 *
 * A cluster run cannot use the order rule (one symbol's windows are spread over every host): its
 * coordinator tells the compactor which symbols are finished with {@link IncrementalCompactor.finished}
 * (src/cluster/incremental.ts).
 *
 * @example
 * ```ts
 * const c = new IncrementalCompactor('./tickpipe-data', { removeWindows: false, onCompacted: (r) => log(r) });
 * ingestStage({ ..., onWindowStart: (symbol) => c.started(symbol) }) // and c.settled(symbol) on each window/failed
 * await c.finish(); // then the end-of-ingest compaction does the rest
 * ```
 */
import { LockedError } from '../errors.js';
import { compact, type CompactResult } from './compact.js';
import { finiteNumber } from '../options.js';

/** Options of {@link IncrementalCompactor}. */
export interface IncrementalCompactionOptions {
  /** Passed to {@link compact}: remove each window folder once its part is committed. */
  readonly removeWindows: boolean;
  /** Least time between the starts of two incremental compactions. @default 60_000 */
  readonly minIntervalMs?: number;
  /** Recorded in the compaction lock file. */
  readonly command?: string;
  /** After each incremental compaction, with the symbols it was asked to compact. */
  readonly onCompacted?: (result: CompactResult, symbols: readonly string[]) => void;
  /**
   * An incremental compaction failed (another process holding the compaction lock is not a
   * failure: it is skipped). Ingest goes on; the compaction at the end of ingest tries again.
   */
  readonly onError?: (err: unknown, symbols: readonly string[]) => void;
}

/** Default of {@link IncrementalCompactionOptions.minIntervalMs}. */
export const DEFAULT_INCREMENTAL_INTERVAL_MS = 60_000;

export class IncrementalCompactor {
  readonly #outDir: string;
  readonly #opts: IncrementalCompactionOptions;
  readonly #minIntervalMs: number;
  /** Windows started and not yet settled, per symbol. */
  readonly #inFlight = new Map<string, number>();
  /** Symbols ingest has moved past, not yet handed to a compaction. */
  readonly #closed = new Set<string>();
  #current: string | undefined;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastStartMs = Number.NEGATIVE_INFINITY;
  #finished = false;
  /** Symbols handed to incremental compactions so far. */
  readonly compactedSymbols = new Set<string>();

  constructor(outDir: string, opts: IncrementalCompactionOptions) {
    const interval = opts.minIntervalMs ?? DEFAULT_INCREMENTAL_INTERVAL_MS;
    finiteNumber('IncrementalCompactor', 'minIntervalMs', interval, 0, true);
    this.#outDir = outDir;
    this.#opts = opts;
    this.#minIntervalMs = interval;
  }

  /** A window of `symbol` starts (call in manifest order). */
  started(symbol: string): void {
    if (this.#current !== undefined && symbol !== this.#current) this.#closed.add(this.#current);
    this.#current = symbol;
    this.#closed.delete(symbol); // met again: reopened
    this.#inFlight.set(symbol, (this.#inFlight.get(symbol) ?? 0) + 1);
    this.#schedule();
  }

  /** A window of `symbol` is committed (journaled) or failed. */
  settled(symbol: string): void {
    const n = (this.#inFlight.get(symbol) ?? 0) - 1;
    if (n > 0) this.#inFlight.set(symbol, n);
    else this.#inFlight.delete(symbol);
    this.#schedule();
  }

  /**
   * Symbols known to be finished by a rule of the caller's (a cluster run: every window of the
   * symbol in the manifest is in some process's journal): compacted like closed symbols, at the
   * same pace. One already handed to a compaction is not handed again.
   */
  finished(symbols: Iterable<string>): void {
    for (const s of symbols) if (!this.compactedSymbols.has(s) && !this.#inFlight.has(s)) this.#closed.add(s);
    this.#schedule();
  }

  /** Symbols closed with nothing in flight. */
  #ready(): string[] {
    return [...this.#closed].filter((s) => !this.#inFlight.has(s)).sort();
  }

  #schedule(): void {
    if (this.#finished || this.#running || this.#timer) return;
    const ready = this.#ready();
    if (ready.length === 0) return;
    const wait = this.#lastStartMs + this.#minIntervalMs - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, wait);
      this.#timer.unref();
      return;
    }
    this.#start(ready);
  }

  #start(symbols: string[]): void {
    for (const s of symbols) {
      this.#closed.delete(s);
      this.compactedSymbols.add(s);
    }
    this.#lastStartMs = Date.now();
    const opts = { symbols: new Set(symbols), removeWindows: this.#opts.removeWindows, ...(this.#opts.command !== undefined ? { command: this.#opts.command } : {}) };
    this.#running = (async () => {
      try {
        const r = await compact(this.#outDir, opts);
        this.#opts.onCompacted?.(r, symbols);
      } catch (err) {
        if (!(err instanceof LockedError)) this.#opts.onError?.(err, symbols);
      } finally {
        this.#running = undefined;
        this.#schedule();
      }
    })();
  }

  /**
   * Ingest is over (or stopping): no new compaction starts; waits for the one running, if any.
   * What is left is for the compaction at the end of ingest.
   */
  async finish(): Promise<void> {
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
