/**
 * `clean`: removes what interrupted runs left behind, reporting every action.
 *
 * - Tmp files (`NAME.tmp-<hex>`, see `isTmpName`) anywhere under the folder:
 *   - of a window file or `events/events.parquet` whose final file is missing: promoted (linked onto
 *     the final name, never over an existing file) when it is a complete Parquet file that
 *     nodejs-polars reads in full, else deleted. A promoted window file makes its window complete
 *     only once both files exist; `reconcile` then journals it.
 *   - of a shard: deleted (a promoted shard would be uncommitted: no journal line names it).
 *   - of a lock file, a journal, run.json, or a file whose final exists: deleted.
 * - Compaction staging (`state/compact/staging/`): staged parts no line of the compaction journal
 *   names, and tmp files, are deleted (their windows are still windows: the next compaction redoes
 *   them). Parts the journal names are left for `tickpipe compact` to publish. Refused while a
 *   compaction may hold `state/compact/compact.lock`.
 * - Uncommitted shards: moved-aside `events/shards/worker-K/.uncommitted/` folders, and shard
 *   files that worker K's journal does not name, are deleted.
 *
 * Refuses (LockedError naming the holder) when a running process may hold the lock of a partition
 * concerned: worker K for its shard folder and `worker-K.*` state files, any ingest partition for
 * the window folders (which partition owns a window depends on the partition count, not on disk),
 * partition K for `part-K.*` state files, any lock for the rest. So a live run's in-flight tmp
 * files and its shard between publish and journal line are never touched. `dryRun` plans the same
 * actions (and refuses the same way) without changing anything.
 *
 * @example
 * ```ts
 * import { cleanRun } from 'tickpipe/ops';
 * const plan = await cleanRun('./tickpipe-data', { dryRun: true });
 * for (const a of plan.actions) console.log(a.kind, a.path, a.reason);
 * ```
 */
import { link, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import pl from 'nodejs-polars';
import { InputError, LockedError } from '../errors.js';
import { classify, nodeFs, isTmpName, NO_ITEMS, NOTHING_COMMITTED, SHARD_ITEMS, toDiskError, windowItems } from '../sinks/index.js';
import {
  UNCOMMITTED_DIR,
  WORKER_DIR_RE,
  describeHolder,
  listJournals,
  mayBeHeld,
  namesIn,
  openRunFolder,
  parquetRowCount,
  readLocks,
  streamJournal,
  walkFiles,
  walkWindows,
  type LockState,
} from './run-folder.js';
import { asShardLine } from './verify.js';
import { datasetPaths, type DatasetPaths } from '../dataset/layout.js';
import { classifyStaging, compactionHolder, loadCompactionJournal, type CompactionJournal } from '../dataset/state.js';

export type CleanActionKind = 'delete-tmp' | 'promote-tmp' | 'delete-uncommitted-shard' | 'remove-uncommitted-dir' | 'delete-uncommitted-part';

/** One thing clean did (or, with dryRun, would do). */
export interface CleanAction {
  readonly kind: CleanActionKind;
  /** Path relative to the run folder. */
  readonly path: string;
  /** For promote-tmp: the final name it was linked onto (relative). */
  readonly target?: string;
  readonly reason: string;
}

/** What {@link cleanRun} did. */
export interface CleanResult {
  readonly dryRun: boolean;
  readonly actions: readonly CleanAction[];
}

/** Options of {@link cleanRun}. */
export interface CleanOptions {
  /** Plan and report only; change nothing. @default false */
  readonly dryRun?: boolean;
  /** Progress lines on long runs. @default undefined */
  readonly onProgress?: (message: string) => void;
}

/** Which lock protects a path: a worker, a partition, any ingest partition, the compaction lock, or any lock at all. */
type Concern = { readonly stage: 'detect' | 'ingest'; readonly index: number | 'any' } | 'compact' | 'any';

interface Planned extends CleanAction {
  readonly abs: string;
  readonly absTarget?: string;
  readonly concern: Concern;
}

/**
 * Files in compaction staging that are not part of the dataset: staged parts no journal line names
 * (a compaction stopped before its commit line; their windows are still windows) and tmp files.
 * Nothing when the compaction journal cannot be read: then no staged file can be proven uncommitted.
 */
async function uncommittedStaging(p: DatasetPaths): Promise<Array<{ state: 'pending' | 'in-progress'; path: string; reason: string }>> {
  let lines: CompactionJournal['lines'];
  try {
    lines = (await loadCompactionJournal(p)).lines;
  } catch {
    return [];
  }
  const out: Array<{ state: 'pending' | 'in-progress'; path: string; reason: string }> = [];
  for (const f of await classifyStaging(p, lines)) {
    if (f.state === 'pending') out.push({ state: 'pending', path: f.path, reason: `staged ${f.kind} of part ${f.part} of ${f.symbol}: no line of state/compact/compact.jsonl names it (uncommitted; its windows are compacted again)` });
    else if (f.state === 'in-progress' && isTmpName(basename(f.path))) out.push({ state: 'in-progress', path: f.path, reason: 'tmp of a staged part (a compaction was stopped while writing it)' });
  }
  return out;
}

/** Whether `p` is a complete Parquet file: footer sane and every page decodes. */
async function completeParquet(p: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const f = await parquetRowCount(p);
  if (!f.ok) return f;
  try {
    const df = await pl.scanParquet(p).collect();
    if (df.height !== f.rows) return { ok: false, reason: `decoded ${df.height} rows, footer says ${f.rows}` };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `does not read: ${(err as Error).message.split('\n')[0]}` };
  }
}

function concernOfState(name: string, stage: 'detect' | 'ingest'): Concern {
  const m = /^(?:worker|part)-(\d+)\./.exec(name);
  return m ? { stage, index: Number(m[1]) } : { stage, index: 'any' };
}

function blocks(c: Concern, l: LockState): boolean {
  if (c === 'any') return true;
  if (c === 'compact') return false;
  return c.stage === l.stage && (c.index === 'any' || c.index === l.index);
}

/** The actions of one clean, planned before anything is touched. */
class CleanPlan {
  readonly actions: Planned[] = [];

  constructor(readonly dir: string) {}

  add(a: Omit<Planned, 'path' | 'target'>): void {
    const rel = (p: string): string => relative(this.dir, p);
    this.actions.push({ ...a, path: rel(a.abs), ...(a.absTarget !== undefined ? { target: rel(a.absTarget) } : {}) });
  }

  /** Shard folders: uncommitted shards, moved-aside folders, tmp files. */
  async shards(shardsDir: string): Promise<void> {
    const journals = await listJournals(this.dir);
    const named = new Map<number, Set<string>>();
    for (const f of journals.detect) {
      const names = new Set<string>();
      named.set(f.index, names);
      await streamJournal(f.path, (v) => {
        const l = asShardLine(v);
        if (l?.shard) names.add(l.shard);
      });
    }
    for (const w of (await namesIn(shardsDir)).sort()) {
      const m = WORKER_DIR_RE.exec(w);
      if (!m) continue;
      const worker = Number(m[1]);
      const concern: Concern = { stage: 'detect', index: worker };
      const wdir = join(shardsDir, w);
      for (const n of (await namesIn(wdir)).sort()) {
        const abs = join(wdir, n);
        const state = classify(wdir, n, SHARD_ITEMS, named.get(worker) ?? new Set<string>())?.state;
        if (n === UNCOMMITTED_DIR) {
          this.add({ kind: 'remove-uncommitted-dir', abs, concern, reason: 'shards moved aside by a run as uncommitted' });
        } else if (state === 'pending') {
          this.add({ kind: 'delete-uncommitted-shard', abs, concern, reason: `no line of worker-${worker}.jsonl names it` });
        } else if (state === 'in-progress') {
          this.add({ kind: 'delete-tmp', abs, concern, reason: 'shard tmp (a promoted shard would be uncommitted)' });
        }
      }
    }
  }

  /** Window folders: a tmp whose final file is missing is promoted when it is a complete Parquet file. */
  async windows(): Promise<void> {
    const concern: Concern = { stage: 'ingest', index: 'any' };
    for await (const w of walkWindows(this.dir)) {
      const promoted = new Set<string>();
      for (const n of [...w.names].sort()) {
        const s = classify(w.dir, n, windowItems(w.event), NOTHING_COMMITTED);
        if (s?.state !== 'in-progress') continue;
        const abs = s.path;
        const final = s.finalName;
        if (w.names.includes(final) || promoted.has(final)) {
          this.add({ kind: 'delete-tmp', abs, concern, reason: `${final} exists` });
          continue;
        }
        if (s.item === undefined) {
          this.add({ kind: 'delete-tmp', abs, concern, reason: 'not a window file' });
          continue;
        }
        const c = await completeParquet(abs);
        if (c.ok) {
          promoted.add(final);
          this.add({ kind: 'promote-tmp', abs, absTarget: join(w.dir, final), concern, reason: `complete Parquet file and ${final} is missing` });
        } else {
          this.add({ kind: 'delete-tmp', abs, concern, reason: `incomplete: ${c.reason}` });
        }
      }
    }
  }

  /** Compaction staging: uncommitted staged parts and tmp files (committed ones are compact's to publish). */
  async staging(dataset: ReturnType<typeof datasetPaths>): Promise<void> {
    for (const f of await uncommittedStaging(dataset)) {
      this.add({ kind: f.state === 'pending' ? 'delete-uncommitted-part' : 'delete-tmp', abs: f.path, concern: 'compact', reason: f.reason });
    }
  }

  /** Everything else: state/, events/events.parquet, logs/, the top folder. */
  async elsewhere(skip: ReadonlySet<string>): Promise<void> {
    const promoted = new Set<string>();
    for await (const abs of walkFiles(this.dir, new Set(skip))) {
      const n = basename(abs);
      const parent = dirname(abs);
      const s = classify(parent, n, NO_ITEMS, NOTHING_COMMITTED);
      if (s?.state !== 'in-progress') continue;
      const final = s.finalName;
      const where = relative(this.dir, parent);
      const concern: Concern =
        where === join('state', 'detect') ? concernOfState(n, 'detect') : where === join('state', 'ingest') ? concernOfState(n, 'ingest') : 'any';
      if (final.endsWith('.lock')) {
        this.add({ kind: 'delete-tmp', abs, concern, reason: 'lock-file leftover' });
      } else if (where === 'events' && final === 'events.parquet') {
        const exists = (await namesIn(parent)).includes(final) || promoted.has(final);
        const c = exists ? undefined : await completeParquet(abs);
        if (c?.ok) {
          promoted.add(final);
          this.add({ kind: 'promote-tmp', abs, absTarget: join(parent, final), concern, reason: 'complete manifest and events.parquet is missing' });
        } else {
          this.add({ kind: 'delete-tmp', abs, concern, reason: exists ? `${final} exists` : `incomplete: ${c!.ok ? '' : c!.reason}` });
        }
      } else {
        this.add({ kind: 'delete-tmp', abs, concern, reason: 'tmp leftover' });
      }
    }
  }

  /** Refuses before touching anything if a running process (or a compaction) may own a path concerned. */
  async refuseIfBusy(dataset: ReturnType<typeof datasetPaths>): Promise<void> {
    const held = (await readLocks(this.dir)).filter(mayBeHeld);
    const compacting = this.actions.some((a) => a.concern === 'compact' || a.concern === 'any') ? await compactionHolder(dataset) : undefined;
    for (const a of this.actions) {
      if (compacting && (a.concern === 'compact' || a.concern === 'any')) {
        throw new LockedError(`refusing to clean ${a.path} while a compaction may be active: ${compacting}; stop it first`);
      }
      const l = held.find((h) => blocks(a.concern, h));
      if (l) throw new LockedError(`refusing to clean ${a.path} while a run may be active: ${describeHolder(l)}; stop it first`);
    }
  }

  async carryOut(): Promise<void> {
    for (const a of this.actions) {
      try {
        if (a.kind === 'remove-uncommitted-dir') await rm(a.abs, { recursive: true, force: true });
        else if (a.kind === 'promote-tmp') {
          // link + unlink rather than rename: never replaces a final file that appeared meanwhile.
          await link(a.abs, a.absTarget!);
          await unlink(a.abs);
          await nodeFs.fsyncDir(dirname(a.abs));
        } else await unlink(a.abs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // already gone
        if (code === 'EEXIST' && a.kind === 'promote-tmp') {
          await unlink(a.abs).catch(() => undefined);
          continue;
        }
        throw toDiskError(err, a.kind === 'promote-tmp' ? 'promoting' : 'removing', a.abs);
      }
    }
  }
}

/**
 * Plans and (unless `dryRun`) carries out the cleanup of a run folder (see the module comment).
 *
 * @throws InputError when `outDir` is not a run folder; LockedError naming the holder when a
 * running process may hold the lock of a partition concerned.
 */
export async function cleanRun(outDir: string, opts?: CleanOptions): Promise<CleanResult> {
  const dryRun = opts?.dryRun ?? false;
  if (typeof dryRun !== 'boolean') throw new InputError(`clean: dryRun must be a boolean, got ${String(dryRun)} (${typeof dryRun})`);
  const { dir } = await openRunFolder(outDir);
  const plan = new CleanPlan(dir);
  const shardsDir = join(dir, 'events', 'shards');
  const dataset = datasetPaths(dir);
  await plan.shards(shardsDir);
  await plan.windows();
  await plan.staging(dataset);
  await plan.elsewhere(new Set([join(dir, 'windows'), shardsDir, dataset.stagingDir]));
  await plan.refuseIfBusy(dataset);
  if (!dryRun) {
    await plan.carryOut();
    opts?.onProgress?.(`clean: ${plan.actions.length} actions done`);
  }
  return { dryRun, actions: plan.actions.map(({ kind, path, target, reason }) => ({ kind, path, ...(target !== undefined ? { target } : {}), reason })) };
}
