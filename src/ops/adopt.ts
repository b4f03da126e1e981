/**
 * `tickpipe adopt`: starts a run folder from the output of the older Python scripts, so their
 * downloads are not paid for twice.
 *
 * What it reads under `--from PATH` (any depth, e.g. under `symbol=S/` or date folders):
 * - windows `event=<ID>/trades.parquet` + `quotes.parquet`;
 * - checkpoints: `*.json` holding `{"completed_events": [...]}` (ingest) or
 *   `{"completed_symbols": [...]}` (detect), or files passed explicitly.
 *
 * Rules:
 * - A window is imported only if both files open with nodejs-polars and hold every column of
 *   TRADES_SCHEMA / QUOTES_SCHEMA. Same types → the file is hard-linked (same filesystem) or
 *   copied, byte for byte. Types that differ but convert (Datetime → Int64 ns, Int64 → Int32,
 *   other numeric widths, List(Int64) → List(Int32)), other column order or extra columns →
 *   rewritten in tickpipe's schema. Missing columns or a failing cast → reported, not imported.
 * - The disk decides, not the checkpoint (the old checkpoints disagreed with the disk): a valid
 *   window is imported even if no checkpoint lists it; a listed event without a valid window is
 *   reported and will be downloaded by the next ingest.
 * - Files are published atomically into `windows/symbol=S/event=ID/`, then journaled in
 *   `state/ingest/part-0.jsonl` (a name `loadIngestState` unions) while holding `part-0.lock`,
 *   after refusing to start if any lock of the folder may be held by a live run: the same
 *   {@link CommitSink} as the window writer (pending → committed), the lines group-committed.
 *   A window published but not journaled by an earlier adopt or run is pending: it is imported
 *   again, overwriting it.
 * - The symbol comes from an enclosing `symbol=S` folder, else from the event ID
 *   (`{symbol}_{event_type}_{YYYYMMDD_HHMMSS}_{hash8}`, parsed from the right; the split is
 *   confirmed by recomputing hash8 when the timestamp had whole seconds).
 * - Completed symbols of a detect checkpoint have no shards here: skipping them in stage 1 would
 *   leave their events out of the manifest. By default they are only reported; with
 *   `trustSymbols` they are journaled as zero-event batches (`{"shard":null,…}` in
 *   `state/detect/worker-0.jsonl`) so stage 1 skips them — use that only with `--manifest` from
 *   the old pipeline.
 * - A folder without run.json gets a minimal one (`{version: 1, source}`), so adopting into a
 *   fresh folder works; `tickpipe run --stage ingest --manifest …` then extends it and skips the
 *   imported events.
 *
 * @example
 * ```ts
 * import { adopt } from 'tickpipe/ops';
 * const r = await adopt({ from: '/old/output', out: './tickpipe-data' });
 * console.log(r.imported.length, r.skipped.length, r.invalid.length);
 * ```
 */
import { copyFile, link, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import {
  acquireLock,
  CommitSink,
  ensureRunSpec,
  Journal,
  loadCompletedSymbols,
  loadIngestState,
  parquetFile,
  QUOTES_SCHEMA,
  readRunSpec,
  TRADES_SCHEMA,
  validateEventId,
  validateSymbol,
  windowPaths,
  type FileToPublish,
  type LockHandle,
  type RunSource,
  type ShardJournalLine,
  type WindowJournalLine,
} from '../sinks/index.js';
import { canonicalEventId } from '../streams/event-id.js';
import { readLocks, refuseIfHeld } from './run-folder.js';

/** Options of {@link adopt}. */
export interface AdoptOptions {
  /** Root of the old tree. */
  readonly from: string;
  /** Run folder to adopt into (created with a minimal run.json if it has none). */
  readonly out: string;
  /** Checkpoint files in addition to the `*.json` found under `from`. @default [] */
  readonly checkpoints?: readonly string[];
  /** Journal detect-checkpoint symbols so stage 1 skips them. @default false */
  readonly trustSymbols?: boolean;
  /** `'auto'`: hard link when possible, else copy; `'copy'`: always copy. @default 'auto' */
  readonly mode?: 'auto' | 'copy';
  /** Source written to a new run.json. @default { baseUrl: 'https://api.polygon.io' } */
  readonly source?: RunSource;
  /** Called now and then with a progress line. @default undefined */
  readonly onProgress?: (msg: string) => void;
}

/** One imported window. */
export interface AdoptedWindow {
  readonly event: string;
  readonly symbol: string;
  readonly trades: number;
  readonly quotes: number;
  /** How the files got there: hard link, byte copy, or rewritten in tickpipe's schema. */
  readonly method: 'link' | 'copy' | 'converted';
}

/** What {@link adopt} did. */
export interface AdoptResult {
  readonly imported: readonly AdoptedWindow[];
  /** Already journaled in the run folder, or a second copy in the old tree. */
  readonly skipped: ReadonlyArray<{ readonly event: string; readonly reason: string }>;
  /** Not imported, with the reason (corrupt file, missing file, schema, bad ID, listed but absent). */
  readonly invalid: ReadonlyArray<{ readonly what: string; readonly reason: string }>;
  /** Checkpoint files read, with their kind. */
  readonly checkpoints: ReadonlyArray<{ readonly path: string; readonly kind: 'ingest' | 'detect'; readonly entries: number }>;
  /** Symbols listed by detect checkpoints (deduplicated), and whether they were journaled. */
  readonly symbols: { readonly listed: readonly string[]; readonly journaled: number };
  readonly runJsonCreated: boolean;
}

/** Parts of an event ID. */
export interface ParsedEventId {
  readonly symbol: string;
  readonly eventType: string;
  /** `YYYYMMDD_HHMMSS` */
  readonly stamp: string;
  readonly hash8: string;
  /** True when hash8 was recomputed and matched (timestamps with whole seconds only). */
  readonly verified: boolean;
}

const ID_TAIL = /^(.+)_(\d{8})_(\d{6})_([0-9a-f]{8})$/;

/**
 * Splits `{symbol}_{event_type}_{YYYYMMDD_HHMMSS}_{hash8}` from the right. Event types contain
 * underscores and symbols rarely do, so among the possible splits of the head the one whose
 * recomputed hash8 matches wins; without a match, the symbol is the text before the first
 * underscore. Returns undefined when the ID does not have that shape.
 *
 * @example
 * ```ts
 * parseEventId('AAPL_opening_range_break_20240304_143000_1a2b3c4d')?.symbol; // 'AAPL'
 * ```
 */
export function parseEventId(id: string): ParsedEventId | undefined {
  const m = ID_TAIL.exec(id);
  if (!m) return undefined;
  const [, head, d, t, hash8] = m as unknown as [string, string, string, string, string];
  const ms = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +t.slice(0, 2), +t.slice(2, 4), +t.slice(4, 6));
  if (!Number.isFinite(ms)) return undefined;
  const cuts: number[] = [];
  for (let i = head.indexOf('_'); i > 0; i = head.indexOf('_', i + 1)) if (i < head.length - 1) cuts.push(i);
  if (cuts.length === 0) return undefined;
  for (const i of cuts) {
    const symbol = head.slice(0, i);
    const eventType = head.slice(i + 1);
    try {
      if (canonicalEventId(symbol, eventType, ms) === id) return { symbol, eventType, stamp: `${d}_${t}`, hash8, verified: true };
    } catch {
      // not a valid split
    }
  }
  return { symbol: head.slice(0, cuts[0]), eventType: head.slice(cuts[0]! + 1), stamp: `${d}_${t}`, hash8, verified: false };
}

type Schema = Readonly<Record<string, pl.DataType>>;

/**
 * Compares a frame with a tickpipe schema: `'exact'` (same names, order and types), a converted
 * frame, or the reason it cannot be converted.
 */
export function conformSchema(df: pl.DataFrame, schema: Schema): { readonly kind: 'exact' } | { readonly kind: 'converted'; readonly df: pl.DataFrame } | { readonly kind: 'error'; readonly reason: string } {
  const want = Object.keys(schema);
  const have = df.columns;
  const missing = want.filter((c) => !have.includes(c));
  if (missing.length > 0) return { kind: 'error', reason: `missing column(s) ${missing.join(', ')}` };
  const same = have.length === want.length && want.every((c, i) => have[i] === c && String(df.schema[c]) === String(schema[c]));
  if (same) return { kind: 'exact' };
  try {
    const exprs = want.map((c) => {
      const from = String(df.schema[c]);
      const to = schema[c]!;
      if (from === String(to)) return pl.col(c);
      // Datetime of any unit/zone → exact Int64 nanoseconds since the epoch.
      if (from.startsWith('DataType(Datetime') && String(to) === String(pl.Int64)) return pl.col(c).cast(pl.Datetime('ns')).cast(pl.Int64, true).alias(c);
      return pl.col(c).cast(to, true).alias(c);
    });
    return { kind: 'converted', df: df.select(...exprs) };
  } catch (err) {
    return { kind: 'error', reason: `cannot convert to tickpipe's schema (${firstLine(err)})` };
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}

interface FoundWindow {
  readonly dir: string;
  readonly id: string;
  readonly folderSymbol: string | undefined;
}

async function scan(root: string, skip: string, found: FoundWindow[], jsons: string[], symbol: string | undefined): Promise<void> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot list ${root} (${(err as NodeJS.ErrnoException).code ?? firstLine(err)})`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(root, e.name);
    if (e.isDirectory()) {
      if (p === skip) continue;
      if (e.name.startsWith('event=')) found.push({ dir: p, id: e.name.slice('event='.length), folderSymbol: symbol });
      else await scan(p, skip, found, jsons, e.name.startsWith('symbol=') ? e.name.slice('symbol='.length) : symbol);
    } else if (e.isFile() && e.name.endsWith('.json')) {
      jsons.push(p);
    }
  }
}

type Checkpoint = { kind: 'ingest'; events: unknown[] } | { kind: 'detect'; symbols: unknown[] } | undefined;

async function readCheckpoint(path: string): Promise<Checkpoint> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.completed_events)) return { kind: 'ingest', events: o.completed_events };
  if (Array.isArray(o.completed_symbols)) return { kind: 'detect', symbols: o.completed_symbols };
  return undefined;
}

async function readFrame(path: string): Promise<{ df: pl.DataFrame } | { reason: string }> {
  try {
    await stat(path);
  } catch {
    return { reason: `missing ${basename(path)}` };
  }
  try {
    return { df: await pl.scanParquet(path).collect() };
  } catch (err) {
    return { reason: `${basename(path)} does not open (${firstLine(err)})` };
  }
}

/** `src` as a file to publish at `dest`: hard-linked (when allowed and possible) or copied into the tmp path. */
function linkOrCopy(src: string, dest: string, mode: 'auto' | 'copy'): FileToPublish<'link' | 'copy'> {
  return {
    path: dest,
    async write(tmp) {
      if (mode === 'auto') {
        try {
          await link(src, tmp);
          return 'link';
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          // EXDEV: another filesystem; EPERM/EACCES/ENOTSUP: links not allowed there. Copy instead.
          if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
          await unlink(tmp).catch(() => undefined);
        }
      }
      await copyFile(src, tmp);
      return 'copy';
    },
  };
}

/** The validated options, paths resolved. */
interface AdoptPlan {
  readonly from: string;
  readonly out: string;
  readonly mode: 'auto' | 'copy';
  readonly progress: (msg: string) => void;
}

async function validateAdoptOptions(opts: AdoptOptions): Promise<AdoptPlan> {
  if (typeof opts?.from !== 'string' || opts.from === '') throw new InputError(`adopt: from must be a path, got ${JSON.stringify(opts?.from)} (${typeof opts?.from})`);
  if (typeof opts.out !== 'string' || opts.out === '') throw new InputError(`adopt: out must be a path, got ${JSON.stringify(opts.out)} (${typeof opts.out})`);
  const mode = opts.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'copy') throw new InputError(`adopt: mode must be 'auto' or 'copy', got ${JSON.stringify(mode)} (${typeof mode})`);
  const from = resolve(opts.from);
  const st = await stat(from).catch(() => undefined);
  if (!st?.isDirectory()) throw new InputError(`--from: not a folder: ${opts.from}`);
  return { from, out: resolve(opts.out), mode, progress: opts.onProgress ?? (() => {}) };
}

/** What the old tree's checkpoint files list. */
interface CheckpointListing {
  readonly checkpoints: Array<{ path: string; kind: 'ingest' | 'detect'; entries: number }>;
  /** Event ID → the checkpoint that lists it. */
  readonly events: Map<string, string>;
  readonly symbols: Set<string>;
}

/** Reads the explicit checkpoints (which must be checkpoints) and the `*.json` found in the tree (which may not be). */
async function readCheckpoints(explicitPaths: readonly string[], found: readonly string[], invalid: AdoptResult['invalid'][number][]): Promise<CheckpointListing> {
  const r: CheckpointListing = { checkpoints: [], events: new Map(), symbols: new Set() };
  const explicit = explicitPaths.map((p) => resolve(p));
  for (const p of [...explicit, ...found.filter((j) => !explicit.includes(j))]) {
    const cp = await readCheckpoint(p);
    if (!cp) {
      if (explicit.includes(p)) throw new InputError(`--checkpoint ${p}: not a checkpoint (expected JSON with completed_events or completed_symbols)`);
      continue;
    }
    const list = cp.kind === 'ingest' ? cp.events : cp.symbols;
    r.checkpoints.push({ path: p, kind: cp.kind, entries: list.length });
    for (const x of list) {
      try {
        if (typeof x !== 'string') throw new InputError(`not a string: ${JSON.stringify(x)}`);
        if (cp.kind === 'ingest') r.events.set(validateEventId(x), p);
        else r.symbols.add(validateSymbol(x));
      } catch (err) {
        invalid.push({ what: `${cp.kind === 'ingest' ? 'event' : 'symbol'} ${JSON.stringify(x)} in ${p}`, reason: firstLine(err) });
      }
    }
  }
  return r;
}

/** The window's event ID and symbol, checked against each other and against its folder. */
function windowIdentity(w: FoundWindow): { id: string; symbol: string } {
  const id = validateEventId(w.id);
  const parsed = parseEventId(id);
  const symbol = validateSymbol(w.folderSymbol ?? parsed?.symbol ?? '');
  if (!parsed) throw new InputError(`event ID ${JSON.stringify(id)} is not {symbol}_{event_type}_{YYYYMMDD_HHMMSS}_{hash8}`);
  if (!id.startsWith(`${symbol}_`)) throw new InputError(`event ID ${JSON.stringify(id)} does not belong to symbol ${symbol} of its folder`);
  return { id, symbol };
}

/** Both files of a window, opened and conformed to tickpipe's schemas; or why not. */
async function readWindow(w: FoundWindow): Promise<{ trades: SchemaFit; quotes: SchemaFit; rows: { trades: number; quotes: number } } | { reason: string }> {
  const [t, q] = await Promise.all([readFrame(join(w.dir, 'trades.parquet')), readFrame(join(w.dir, 'quotes.parquet'))]);
  if ('reason' in t || 'reason' in q) return { reason: ['reason' in t ? t.reason : '', 'reason' in q ? q.reason : ''].filter(Boolean).join('; ') };
  const ct = conformSchema(t.df, TRADES_SCHEMA);
  const cq = conformSchema(q.df, QUOTES_SCHEMA);
  if (ct.kind === 'error' || cq.kind === 'error') {
    return { reason: [ct.kind === 'error' ? `trades: ${ct.reason}` : '', cq.kind === 'error' ? `quotes: ${cq.reason}` : ''].filter(Boolean).join('; ') };
  }
  return { trades: ct, quotes: cq, rows: { trades: t.df.height, quotes: q.df.height } };
}

type SchemaFit = Exclude<ReturnType<typeof conformSchema>, { kind: 'error' }>;

/** Both files of a window to publish (linked, copied or rewritten in tickpipe's schema), each reporting how. */
function windowFiles(plan: AdoptPlan, w: FoundWindow, r: { trades: SchemaFit; quotes: SchemaFit }, symbol: string, id: string): Array<FileToPublish<AdoptedWindow['method']>> {
  const p = windowPaths(plan.out, symbol, id);
  const file = (c: SchemaFit, src: string, dest: string): FileToPublish<AdoptedWindow['method']> => {
    if (c.kind === 'exact') return linkOrCopy(src, dest, plan.mode);
    const rewrite = parquetFile(dest, c.df);
    return { path: dest, write: async (tmp) => (await rewrite.write(tmp), 'converted') };
  };
  return [file(r.trades, join(w.dir, 'trades.parquet'), p.trades), file(r.quotes, join(w.dir, 'quotes.parquet'), p.quotes)];
}

/** How a window got there, from how each of its files did. */
function windowMethod([mt, mq]: readonly AdoptedWindow['method'][]): AdoptedWindow['method'] {
  return mt === 'converted' || mq === 'converted' ? 'converted' : mt === 'copy' || mq === 'copy' ? 'copy' : 'link';
}

/** The windows of the old tree imported one by one; every published window committed by its journal line. */
class WindowImport {
  readonly imported: AdoptedWindow[] = [];
  readonly skipped: Array<{ event: string; reason: string }> = [];
  /** Event ID → where its (first valid) window is in the old tree. */
  readonly seen = new Map<string, string>();
  /** Windows already reported invalid are not reported again for their checkpoint listing. */
  readonly bad = new Set<string>();
  private readonly pending: Array<Promise<void>> = [];

  constructor(
    private readonly plan: AdoptPlan,
    private readonly done: { has(id: string): boolean },
    private readonly sink: CommitSink<WindowJournalLine>,
    private readonly invalid: AdoptResult['invalid'][number][],
  ) {}

  async add(w: FoundWindow): Promise<void> {
    const where = relative(this.plan.from, w.dir) || w.dir;
    let idn: { id: string; symbol: string };
    try {
      idn = windowIdentity(w);
    } catch (err) {
      this.invalid.push({ what: where, reason: firstLine(err) });
      return;
    }
    const { id, symbol } = idn;
    const first = this.seen.get(id);
    if (first !== undefined) return void this.skipped.push({ event: id, reason: `second copy in the old tree (${where}; first: ${first})` });
    if (this.done.has(id)) {
      this.seen.set(id, where);
      return void this.skipped.push({ event: id, reason: 'already present in the run folder' });
    }
    const r = await readWindow(w);
    if ('reason' in r) {
      this.bad.add(id);
      return void this.invalid.push({ what: where, reason: r.reason });
    }
    this.seen.set(id, where);
    const line = { event: id, symbol, trades: r.rows.trades, quotes: r.rows.quotes };
    const published = await this.sink.publish(windowFiles(this.plan, w, r, symbol, id), () => line);
    // Both files are published (pending): the journal line is the commit point, group-committed,
    // so the next window is read meanwhile.
    this.pending.push(this.sink.commitPending(published).then(() => undefined));
    this.imported.push({ ...line, method: windowMethod(published.results) });
    if (this.pending.length >= 1000) await Promise.all(this.pending.splice(0));
  }

  flush(): Promise<unknown> {
    return Promise.all(this.pending.splice(0));
  }
}

/** Journals the detect checkpoints' symbols (not yet journaled) so stage 1 skips them; returns how many. */
async function journalTrustedSymbols(out: string, listed: ReadonlySet<string>, locks: LockHandle[]): Promise<number> {
  const already = await loadCompletedSymbols(out);
  const add = [...listed].filter((s) => !already.has(s)).sort();
  if (add.length === 0) return 0;
  locks.push(await acquireLock(join(out, 'state', 'detect', 'worker-0.lock'), { command: 'tickpipe adopt' }));
  const dj = await Journal.open<ShardJournalLine>(join(out, 'state', 'detect', 'worker-0.jsonl'));
  try {
    // A zero-event batch has no file: its line alone commits the symbols.
    await new CommitSink(dj).commit([], () => ({ shard: null, symbols: add, rows: 0 }));
  } finally {
    await dj.close();
  }
  return add.length;
}

/**
 * Adopts an old tree into a run folder; see the module comment for the rules.
 *
 * @throws InputError when `from` is not a folder or a given checkpoint is not one; LockedError
 *   when a run may be active on `out`.
 */
export async function adopt(opts: AdoptOptions): Promise<AdoptResult> {
  const plan = await validateAdoptOptions(opts);
  const { from, out } = plan;
  const found: FoundWindow[] = [];
  const jsons: string[] = [];
  await scan(from, out, found, jsons, undefined);
  const invalid: Array<{ what: string; reason: string }> = [];
  const listing = await readCheckpoints(opts.checkpoints ?? [], jsons, invalid);

  // Refuse before anything is written.
  const existing = await readRunSpec(out);
  refuseIfHeld(await readLocks(out), `adopt into ${out}`);
  let runJsonCreated = false;
  if (!existing) {
    await ensureRunSpec(out, { version: 1, source: opts.source ?? { baseUrl: 'https://api.polygon.io' } }, { stage: 'adopt' });
    runJsonCreated = true;
  }

  const locks: LockHandle[] = [];
  let journal: Journal<WindowJournalLine> | undefined;
  let journaledSymbols = 0;
  let windows: WindowImport | undefined;
  try {
    locks.push(await acquireLock(join(out, 'state', 'ingest', 'part-0.lock'), { command: 'tickpipe adopt' }));
    const done = (await loadIngestState(out)).completed;
    journal = await Journal.open<WindowJournalLine>(join(out, 'state', 'ingest', 'part-0.jsonl'), { groupCommitMs: 200 });
    windows = new WindowImport(plan, done, new CommitSink(journal), invalid);
    let n = 0;
    for (const w of found) {
      if (++n % 500 === 0) plan.progress(`adopt: ${n}/${found.length} windows checked, ${windows.imported.length} imported`);
      await windows.add(w);
    }
    await windows.flush();
    for (const [ev, cp] of listing.events) {
      if (!windows.seen.has(ev) && !done.has(ev) && !windows.bad.has(ev)) invalid.push({ what: `event ${ev}`, reason: `listed as completed in ${cp} but no valid window on disk (the next ingest downloads it)` });
    }
    if (opts.trustSymbols && listing.symbols.size > 0) journaledSymbols = await journalTrustedSymbols(out, listing.symbols, locks);
  } finally {
    await journal?.close();
    for (const l of locks.reverse()) await l.release().catch(() => undefined);
  }
  return {
    imported: windows?.imported ?? [],
    skipped: windows?.skipped ?? [],
    invalid,
    checkpoints: listing.checkpoints,
    symbols: { listed: [...listing.symbols].sort(), journaled: journaledSymbols },
    runJsonCreated,
  };
}
