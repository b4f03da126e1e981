/**
 * Incremental compaction during a cluster ingest, done by the `run --cluster` process only.
 *
 * The one-host rule (a symbol is finished once ingest has started a later one) needs one process
 * that sees every window start; in a cluster a symbol's windows are spread over every host. The
 * rule here reads the journals instead: a symbol is finished when every one of its manifest
 * windows is committed in some process's journal. A symbol with a failed window waits for the
 * compaction at the end of the run. The coordinator does it because it is the one process every
 * cluster run has from start to end (workers join and leave), so there is one incremental
 * compactor per run; it only ever calls {@link compact} through {@link IncrementalCompactor}, whose
 * compaction lock keeps it from writing while another host's end-of-run compaction does (and that
 * one waits for it).
 */
import { IncrementalCompactor } from '../dataset/incremental.js';
import { formatCompact } from '../dataset/run-compaction.js';
import { manifestPath } from '../pipeline/consolidate.js';
import { readManifest } from '../streams/manifest.js';
import { CommittedIndex } from './committed-index.js';
import type { ClusterPhase } from './layout.js';

/** Symbols whose manifest windows are all committed, found from the journals of every process. */
export class FinishedSymbols {
  /** Per symbol not yet finished: its windows not yet seen committed (checked from the front). */
  readonly #remaining = new Map<string, string[]>();
  readonly #committed: CommittedIndex;

  private constructor(committed: CommittedIndex) {
    this.#committed = committed;
  }

  /** Reads the manifest (`events/events.parquet`) once; call when stage 2 has started. */
  static async load(outDir: string): Promise<FinishedSymbols> {
    const f = new FinishedSymbols(CommittedIndex.ingest(outDir));
    for await (const e of readManifest(manifestPath(outDir))) {
      let ids = f.#remaining.get(e.symbol);
      if (!ids) f.#remaining.set(e.symbol, (ids = []));
      ids.push(e.eventId);
    }
    return f;
  }

  /** Symbols found finished since the last call. Reads only what the journals gained. */
  async poll(): Promise<string[]> {
    await this.#committed.refresh();
    const done: string[] = [];
    for (const [symbol, ids] of this.#remaining) {
      // Windows are mostly committed in manifest order: the first one still missing ends the look.
      let i = 0;
      while (i < ids.length && this.#committed.has(ids[i]!)) i++;
      if (i === ids.length) {
        this.#remaining.delete(symbol);
        done.push(symbol);
      } else if (i > 0) ids.splice(0, i);
    }
    return done;
  }
}

/** How the coordinator's incremental compaction reports. */
export interface ClusterCompactionReport {
  readonly say: (line: string) => void;
  readonly log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/** Least time between two looks at the journals. */
const POLL_MS = 5_000;

/**
 * The coordinator's incremental compaction: {@link onPhase} is called with the run's phase on each
 * turn of the worker loop; while the run is in `ingest`, finished symbols are handed to an
 * {@link IncrementalCompactor} (one compaction at a time, at most one a minute by default).
 */
export class ClusterIncrementalCompaction {
  readonly #compactor: IncrementalCompactor;
  #symbols: Promise<FinishedSymbols> | undefined;
  #polling = false;
  #lastPoll = 0;

  constructor(
    private readonly outDir: string,
    removeWindows: boolean,
    private readonly report: ClusterCompactionReport,
    minIntervalMs?: number,
  ) {
    this.#compactor = new IncrementalCompactor(outDir, {
      removeWindows,
      command: 'tickpipe run --cluster (incremental compaction)',
      ...(minIntervalMs !== undefined ? { minIntervalMs } : {}),
      onCompacted: (r, symbols) => {
        report.say(`during ingest: ${formatCompact(r)} (${symbols.length} finished symbol(s))`);
        report.log.info({ compaction: r, symbols: symbols.length, incremental: true }, 'compacted during ingest');
      },
      onError: (err, symbols) => {
        const message = err instanceof Error ? err.message : String(err);
        report.say(`during ingest: compaction of ${symbols.length} finished symbol(s) failed (${message}); retried at the end of the run`);
        report.log.warn({ err: message, symbols: symbols.length }, 'compaction during ingest failed');
      },
    });
  }

  onPhase(phase: ClusterPhase | null): void {
    if (phase !== 'ingest' || this.#polling || Date.now() - this.#lastPoll < POLL_MS) return;
    this.#polling = true;
    this.#lastPoll = Date.now();
    this.#symbols ??= FinishedSymbols.load(this.outDir);
    void this.#symbols
      .then((f) => f.poll())
      .then((done) => this.#compactor.finished(done))
      .catch((err: unknown) => {
        // The manifest is read again on the next look; the end-of-run compaction covers everything.
        this.#symbols = undefined;
        this.report.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'incremental compaction: reading the journals failed');
      })
      .finally(() => (this.#polling = false));
  }

  /** The run is over (or stopping): no new compaction starts; waits for the one running. */
  async finish(): Promise<void> {
    while (this.#polling) await new Promise((r) => setTimeout(r, 50));
    await this.#compactor.finish();
  }
}
