/**
 * `status`: a one-shot summary of a run folder from its journals, files and locks. Read-only and
 * cheap (journals streamed, the manifest's row count read from its Parquet footer), so it is safe
 * to call while a run is active, e.g. from a cron job or a dashboard.
 *
 * @example
 * ```ts
 * import { runStatus } from 'tickpipe/ops';
 * const s = await runStatus('./tickpipe-data');
 * console.log(`${s.ingest?.windowsDone}/${s.ingest?.windowsTotal} windows`, s.live ? 'running' : 'idle');
 * ```
 */
import { hostRows, type HostRow } from './hosts-view.js';
import { open } from 'node:fs/promises';
import { parseHeartbeat, type Heartbeat } from '../progress/heartbeat.js';
import { datasetSummary, type DatasetSummary } from '../dataset/check.js';
import { heartbeatFiles, mayBeHeld, readCompactLock, readRunFolder, stageTotals, type LockStateKind, type ReadLocksOptions, type RunFolderModel, type StageTotals } from '../run-folder/index.js';


/** A lock as status reports it. */
export interface StatusLock {
  /** `compact`: state/compact/compact.lock (index 0). */
  readonly stage: 'detect' | 'ingest' | 'compact';
  readonly index: number;
  readonly state: LockStateKind;
  readonly pid: number | null;
  readonly host: string | null;
  readonly since: string | null;
  readonly command: string | null;
}

/** What {@link runStatus} returns (also the `--json` output). */
export interface StatusReport {
  readonly outDir: string;
  readonly run: {
    readonly from: string | null;
    readonly to: string | null;
    readonly source: string;
  };
  /** Stages with something on disk: 'detect', 'consolidate', 'ingest'. */
  readonly stages: readonly string[];
  readonly detect: {
    readonly symbolsDone: number;
    /** universe.count of run.json; null when the run has no detect spec. */
    readonly symbolsTotal: number | null;
    readonly shards: number;
    readonly eventRows: number;
  } | null;
  readonly manifest: { readonly path: string; readonly events: number | null } | null;
  readonly ingest: {
    readonly windowsDone: number;
    /** Rows of the manifest; null when it is absent or does not open. */
    readonly windowsTotal: number | null;
    readonly failed: number;
    readonly failuresByCode: Readonly<Record<string, number>>;
    /** Most frequent failure reasons first (at most 10). */
    readonly failuresByReason: ReadonlyArray<{ readonly reason: string; readonly count: number }>;
    readonly tradeRows: number;
    readonly quoteRows: number;
  } | null;
  readonly lastActivity: {
    /** `time` of the last heartbeat line. */
    readonly heartbeatAt: string | null;
    /** Latest modification time of a journal. */
    readonly journalAt: string | null;
    /** The later of the two. */
    readonly at: string | null;
    readonly agoSec: number | null;
    /** The last heartbeat line itself (stage, processed, total, reqPerSec, …). */
    readonly heartbeat: Readonly<Record<string, unknown>> | null;
    /** The last heartbeat read through the typed model (src/progress/heartbeat.ts), or null. */
    readonly progress: Heartbeat | null;
  };
  readonly locks: readonly StatusLock[];
  /** A running process may hold a lock (live on this host, or on another host). */
  readonly live: boolean;
  /** Cluster mode: each worker process (slot), its host and what it did, from its last heartbeat. */
  readonly hosts: readonly HostRow[];
  /** The compacted dataset: null when nothing was compacted yet. */
  readonly dataset: DatasetSummary | null;
}

/** Options of {@link runStatus}. */
export type StatusOptions = ReadLocksOptions;

async function lastHeartbeat(path: string): Promise<Record<string, unknown> | null> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = (await fh.stat()).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const v = JSON.parse(lines[i]!) as Record<string, unknown>;
        if (v && typeof v === 'object' && typeof v.time === 'string') return v;
      } catch {
        // a torn or partial line: look further back
      }
    }
    return null;
  } finally {
    await fh.close();
  }
}

function detectStatus(m: RunFolderModel, totals: StageTotals): StatusReport['detect'] {
  if (m.journals.detect.length === 0 && !m.spec.universe) return null;
  return { symbolsDone: m.detect.symbols.size, symbolsTotal: totals.symbols, shards: m.detect.shards.size, eventRows: m.detect.eventRows };
}

/**
 * A failure's reason as a group key: errors name the window they failed on (its event ID, or its
 * symbol in the request path: `GET /v3/quotes/AIRI: …`), which made every reason distinct and the
 * grouping by reason a list of `1 x …` lines. Both are taken out, the symbol only as a whole word.
 */
function reasonGroup(f: { readonly event: string; readonly symbol: string; readonly reason: string }): string {
  let r = f.event === '' ? f.reason : f.reason.split(f.event).join('<event>');
  if (f.symbol !== '') r = r.replace(new RegExp(`(?<![A-Za-z0-9.])${f.symbol.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`, 'g'), '<symbol>');
  return r;
}

/** Stage 2 as the model sees it: committed windows (first line wins), open failures (last line wins). */
function ingestStatus(m: RunFolderModel, windowsTotal: number | null): StatusReport['ingest'] {
  if (m.journals.ingest.length === 0 && m.journals.failed.length === 0) return null;
  const byCode: Record<string, number> = {};
  const byReason = new Map<string, number>();
  for (const f of m.failures.values()) {
    byCode[f.code] = (byCode[f.code] ?? 0) + 1;
    const reason = reasonGroup(f);
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  return {
    windowsDone: m.ingest.windows.size,
    windowsTotal,
    failed: m.failures.size,
    failuresByCode: byCode,
    failuresByReason: [...byReason.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([reason, count]) => ({ reason, count })),
    tradeRows: m.ingest.trades,
    quoteRows: m.ingest.quotes,
  };
}

/** The newest heartbeat of any process (one file per process in cluster mode) against the journals' mtime. */
function lastActivity(beats: ReadonlyArray<Record<string, unknown> | null>, latestJournal: number): StatusReport['lastActivity'] {
  const hb = beats.reduce<Record<string, unknown> | null>((best, b) => (b && (!best || String(b.time) > String(best.time)) ? b : best), null);
  const hbMs = hb ? Date.parse(hb.time as string) : Number.NaN;
  const atMs = Math.max(Number.isFinite(hbMs) ? hbMs : 0, latestJournal);
  return {
    heartbeatAt: Number.isFinite(hbMs) ? new Date(hbMs).toISOString() : null,
    journalAt: latestJournal > 0 ? new Date(latestJournal).toISOString() : null,
    at: atMs > 0 ? new Date(atMs).toISOString() : null,
    agoSec: atMs > 0 ? Math.max(0, Math.round((Date.now() - atMs) / 1000)) : null,
    heartbeat: hb,
    progress: hb ? (parseHeartbeat(JSON.stringify(hb)) ?? null) : null,
  };
}

/**
 * Summarises a run folder.
 *
 * @throws InputError when `outDir` is not a run folder (no run.json).
 */
export async function runStatus(outDir: string, opts?: StatusOptions): Promise<StatusReport> {
  const model = await readRunFolder(outDir, { windowDetail: false, ...(opts ? { locks: opts } : {}) });
  const { dir, spec, journals } = model;
  const totals = await stageTotals(dir, spec);
  const detect = detectStatus(model, totals);
  const manifest = totals.manifest;
  const ingest = ingestStatus(model, manifest?.events ?? null);
  const beats = await Promise.all((await heartbeatFiles(dir)).map((f) => lastHeartbeat(f)));
  const compactLock = await readCompactLock(dir, opts);
  const lockStates = [...model.locks, ...(compactLock ? [{ ...compactLock, stage: 'compact' as const, index: 0 }] : [])];
  const locks: StatusLock[] = lockStates.map((l) => ({
    stage: l.stage,
    index: l.index,
    state: l.state,
    pid: l.info?.pid ?? null,
    host: l.info?.host ?? null,
    since: l.info?.startedAt ?? null,
    command: l.info?.command ?? null,
  }));
  const source = 'sim' in spec.source ? `simulator (seed ${spec.source.sim.seed})` : spec.source.baseUrl;
  const stages = [
    ...(journals.detect.length > 0 ? ['detect'] : []),
    ...(manifest ? ['consolidate'] : []),
    ...(journals.ingest.length > 0 || journals.failed.length > 0 ? ['ingest'] : []),
  ];
  return {
    outDir: dir,
    run: { from: spec.from ?? null, to: spec.to ?? null, source },
    stages,
    detect,
    manifest,
    ingest,
    lastActivity: lastActivity(beats, model.journalMtimeMs),
    locks,
    live: lockStates.some(mayBeHeld),
    hosts: hostRows(beats),
    dataset: await datasetSummary(dir),
  };
}
