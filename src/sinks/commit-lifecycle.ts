/**
 * The commit lifecycle of every exactly-once sink (docs/ARCHITECTURE.md, "The commit protocol"),
 * in one place and as types: an item (a shard, a window, a symbol-day…) moves through
 *
 * - {@link InProgress}: bytes are being written to a tmp file next to the final name (by any
 *   writer: this thread, nodejs-polars, a window worker thread); never read;
 * - {@link Pending}: published under its final name(s), but no journal line names it;
 * - {@link Committed}: an fsync'd journal line names it (the commit point).
 *
 * One implementation of each step:
 * - {@link classify} / {@link classifyFolder}: a file on disk plus the journals' committed set → its state;
 * - {@link recoverFolder}: what a writer does on start (or before redoing an item) with each
 *   state: in-progress → deleted (unless this process is writing it now), pending → the sink's
 *   {@link PendingRule} (overwrite by the next publish, delete, or move aside), committed → kept;
 * - {@link CommitSink}: publish every file atomically (tmp, fsync, rename, folder fsync), THEN append
 *   the journal line and wait for its fsync. `publish` and `commitPending` are the two transitions,
 *   `commit` both.
 *
 * Used by the stage-1 ShardWriter, the stage-2 WindowWriter, `adopt` and `examples/custom-sink.ts`;
 * `clean` and `reconcile` decide each leftover's state with {@link classify}.
 *
 * @example
 * ```ts
 * import { CommitSink, Journal, recoverFolder, itemsNamed, NOTHING_COMMITTED } from 'tickpipe/sinks';
 * const sink = new CommitSink(await Journal.open<{ day: string }>('/out/state/days.jsonl'));
 * await recoverFolder('/out/days/2024-03-04', itemsNamed(['trades.parquet'], '2024-03-04'), NOTHING_COMMITTED, 'overwrite');
 * await sink.commit([{ path: '/out/days/2024-03-04/trades.parquet', write: async (tmp) => writeSomehow(tmp) }], () => ({ day: '2024-03-04' }));
 * ```
 */
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import { isNotFound, namesOrNone, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import type { Journal } from './journal.js';
import { toDiskError } from '../fs/paths.js';
import { isTmpBeingWritten, publishFile, tmpFinalName, type FileToPublish, type PublishOptions } from '../fs/publish-atomically.js';

/** A tmp file: the bytes of a publish that has not renamed it yet (or was killed). Never read. */
export interface InProgress<I> {
  readonly state: 'in-progress';
  /** The tmp file. */
  readonly path: string;
  /** The final name it would have been published as (a base name in the same folder). */
  readonly finalName: string;
  /** The item that final name holds, or undefined when it is not one of the sink's files. */
  readonly item: I | undefined;
}

/** Published under its final name(s), no journal line names it yet. */
export interface Pending<I> {
  readonly state: 'pending';
  readonly item: I;
  /** The final file(s). */
  readonly paths: readonly string[];
}

/** Named by a durable journal line. */
export interface Committed<I> {
  readonly state: 'committed';
  readonly item: I;
  readonly paths: readonly string[];
}

/** The state of one file (or item) of a sink. */
export type CommitState<I> = InProgress<I> | Pending<I> | Committed<I>;

/** Which final names in a folder are a sink's files, and which item each holds. */
export interface SinkItems<I> {
  /** The item the final file `name` holds, or undefined when the file is not one of the sink's (left alone). */
  itemOf(name: string): I | undefined;
}

/** What the journals committed, as the classifier asks it. */
export interface CommittedSet<I> {
  has(item: I): boolean;
}

/**
 * The committed set of a writer that is only asked for items no journal names (the stage-2
 * window writer: the manifest pass skipped the committed ones), so every final file it finds is pending.
 */
export const NOTHING_COMMITTED: CommittedSet<unknown> = { has: () => false };

/** Items that are files with fixed names in one folder (a window's `trades.parquet` and `quotes.parquet`), all holding `item`. */
export function itemsNamed<I>(names: readonly string[], item: I): SinkItems<I> {
  return { itemOf: (name) => (names.includes(name) ? item : undefined) };
}

/** Items whose file name matches `re`; the item is the file name (stage-1 shards). */
export function itemsMatching(re: RegExp): SinkItems<string> {
  return { itemOf: (name) => (re.test(name) ? name : undefined) };
}

/** No sink's files: only tmp files are classified (in progress, item undefined). */
export const NO_ITEMS: SinkItems<never> = { itemOf: () => undefined };

/** The state of a published item: committed exactly when a journal line names it. */
export function publishedState<I>(item: I, committed: CommittedSet<I>): 'pending' | 'committed' {
  return committed.has(item) ? 'committed' : 'pending';
}

/**
 * The state of the file `name` in `dir`: a tmp file is in progress (whatever its final name); a
 * final file of the sink is committed when `committed` has its item, else pending; anything else
 * is not the sink's (undefined).
 */
export function classify<I>(dir: string, name: string, items: SinkItems<I>, committed: CommittedSet<I>): CommitState<I> | undefined {
  const path = join(dir, name);
  const finalName = tmpFinalName(name);
  if (finalName !== undefined) return { state: 'in-progress', path, finalName, item: items.itemOf(finalName) };
  const item = items.itemOf(name);
  if (item === undefined) return undefined;
  return { state: publishedState(item, committed), item, paths: [path] };
}

/** Every file of `dir` classified, in name order; a missing folder holds nothing. */
export async function classifyFolder<I>(dir: string, items: SinkItems<I>, committed: CommittedSet<I>, fs: FsLayer = nodeFs): Promise<Array<CommitState<I>>> {
  const out: Array<CommitState<I>> = [];
  for (const name of (await namesOrNone(fs, dir)).sort()) {
    const s = classify(dir, name, items, committed);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/**
 * What recovery does with a pending item (the existing rules of each sink):
 * - `'overwrite'`: nothing now; the item is produced again and its publish replaces the file
 *   atomically with the same bytes (stage 2, adopt, the custom-sink example);
 * - `'delete'`: removed;
 * - `{ moveAsideTo }`: renamed into that folder as `NAME.uncommitted-<random>` (stage 1, where the
 *   next shard number may reuse the name).
 */
export type PendingRule = 'overwrite' | 'delete' | { readonly moveAsideTo: string };

/** What {@link recoverFolder} did. */
export interface Recovery {
  /** Tmp files removed (base names). */
  readonly tmpRemoved: readonly string[];
  /** Pending files deleted or moved aside (base names); empty under `'overwrite'`. */
  readonly pending: readonly string[];
}

/**
 * Recovers the sink's files in `dir`: in-progress files of the sink's items are removed (never
 * one this process is writing now: two commits of one item in flight would delete each other's
 * tmp), pending files follow `rule`, committed files stay. The folder (and the aside folder) is
 * fsync'd when anything was removed or moved. Call it only while holding the lock that makes this
 * process the single writer of those items. A file that vanished meanwhile is fine.
 *
 * @throws DiskError naming the file when removing or moving one fails.
 */
export async function recoverFolder<I>(dir: string, items: SinkItems<I>, committed: CommittedSet<I>, rule: PendingRule, fs: FsLayer = nodeFs): Promise<Recovery> {
  if (rule !== 'overwrite' && rule !== 'delete' && (typeof rule !== 'object' || typeof rule?.moveAsideTo !== 'string')) {
    throw new InputError(`recoverFolder: rule must be 'overwrite', 'delete' or { moveAsideTo }, got ${JSON.stringify(rule)}`);
  }
  const tmpRemoved: string[] = [];
  const pending: string[] = [];
  for (const s of await classifyFolder(dir, items, committed, fs)) {
    if (s.state === 'committed' || (s.state === 'pending' && rule === 'overwrite')) continue;
    if (s.state === 'in-progress' && (s.item === undefined || isTmpBeingWritten(s.path))) continue;
    const path = s.state === 'in-progress' ? s.path : s.paths[0]!;
    const name = basename(path);
    try {
      if (s.state === 'in-progress' || rule === 'delete') {
        await fs.unlink(path);
      } else if (typeof rule === 'object') {
        if (pending.length === 0) await fs.mkdir(rule.moveAsideTo);
        await fs.rename(path, join(rule.moveAsideTo, `${name}.uncommitted-${randomBytes(4).toString('hex')}`));
      }
    } catch (err) {
      if (isNotFound(err)) continue;
      throw toDiskError(err, s.state === 'in-progress' ? 'removing leftover' : 'recovering uncommitted', path);
    }
    (s.state === 'in-progress' ? tmpRemoved : pending).push(name);
  }
  if (tmpRemoved.length > 0 || pending.length > 0) {
    try {
      await fs.fsyncDir(dir);
      if (typeof rule === 'object' && pending.length > 0) await fs.fsyncDir(rule.moveAsideTo);
    } catch (err) {
      throw toDiskError(err, 'syncing folder', dir);
    }
  }
  return { tmpRemoved, pending };
}

/**
 * Removes the tmp files a killed publish left next to the given final names in `dir` (the
 * in-progress recovery of {@link recoverFolder}, for callers without a journal of their own).
 * Returns the names removed; a missing folder is fine.
 */
export async function sweepStaleTmps(dir: string, finalNames: readonly string[], fs: FsLayer = nodeFs): Promise<string[]> {
  return [...(await recoverFolder(dir, itemsNamed(finalNames, true), NOTHING_COMMITTED, 'overwrite', fs)).tmpRemoved];
}

/** A {@link Pending} item this process published, with the line that will commit it and what each file's writer reported. */
export interface Published<L, R> extends Pending<L> {
  readonly results: readonly R[];
}

/** A {@link Committed} item this process committed, with what each file's writer reported. */
export interface CommittedItem<L, R> extends Committed<L> {
  readonly results: readonly R[];
}

/** Options of {@link CommitSink}. */
export interface CommitSinkOptions {
  /** Filesystem layer (the crash tests inject crashes here). @default nodeFs */
  readonly fs?: FsLayer;
  /** Rename retries and the like, see {@link PublishOptions}. @default {} */
  readonly publish?: Omit<PublishOptions, 'fs'>;
}

/**
 * The commit step of one journal: an item's files are published, then its journal line is
 * appended. The item a line commits is the line itself (it names the item). The caller holds the
 * lock that makes it the journal's single writer, and the journal's group-commit interval decides
 * how soon a line is durable.
 *
 * @example
 * ```ts
 * const { journal, entries } = await Journal.load<DayLine>(path, { groupCommitMs: 100 });
 * const sink = new CommitSink(journal);
 * await sink.commit([{ path: file, write: (tmp) => writeFile(tmp, bytes) }], () => line); // committed when resolved
 * ```
 */
export class CommitSink<L> {
  readonly journal: Journal<L>;
  readonly #publishOptions: PublishOptions;

  constructor(journal: Journal<L>, opts?: CommitSinkOptions) {
    this.journal = journal;
    this.#publishOptions = { ...opts?.publish, fs: opts?.fs ?? nodeFs };
  }

  /**
   * In progress → pending: publishes every file atomically (all at once; the first failure, in
   * the order given, is thrown once all have settled, so no tmp file is left being written).
   * `line` builds the journal line from what the writers reported. Nothing is journaled yet.
   */
  async publish<R>(files: ReadonlyArray<FileToPublish<R>>, line: (results: readonly R[]) => L): Promise<Published<L, R>> {
    const settled = await Promise.allSettled(files.map((f) => publishFile(f, this.#publishOptions)));
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    const results = settled.map((s) => (s as PromiseFulfilledResult<R>).value);
    return { state: 'pending', item: line(results), paths: files.map((f) => f.path), results };
  }

  /** Pending → committed: appends the item's journal line; resolves once an fsync covers it. */
  async commitPending<R>(p: Published<L, R>): Promise<CommittedItem<L, R>> {
    await this.journal.append(p.item);
    return { state: 'committed', item: p.item, paths: p.paths, results: p.results };
  }

  /** Both transitions: publish every file, then journal the line. An item without files is journaled at once. */
  async commit<R>(files: ReadonlyArray<FileToPublish<R>>, line: (results: readonly R[]) => L): Promise<CommittedItem<L, R>> {
    return this.commitPending(await this.publish(files, line));
  }
}
