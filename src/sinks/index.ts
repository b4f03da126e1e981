/**
 * tickpipe sinks: atomic publishing, journals, locks, run identity, Parquet output, and the
 * stage-1 shard and stage-2 event-window sinks that implement the exactly-once commit protocol.
 *
 * @example
 * ```ts
 * import { ShardWriter, loadCompletedSymbols, WindowWriter, loadIngestState } from 'tickpipe/sinks';
 * ```
 */
export {
  nodeFs,
  instrumentFs,
  SimulatedCrash,
  errnoCode,
  isNotFound,
  type FsLayer,
  type FsFileHandle,
  type FsStat,
  type OpenFlags,
  type FsOp,
  type FsCall,
  type FsHookResult,
  type InstrumentedFs,
} from '../fs/fs-layer.js';
export { validatePathComponent, validateSymbol, validateEventId, toDiskError } from '../fs/paths.js';
export {
  publishAtomically,
  publishBytes,
  isTmpName,
  tmpFinalName,
  tmpPathFor,
  publishFile,
  type FileToPublish,
  type PublishOptions,
} from '../fs/publish-atomically.js';
export {
  CommitSink,
  classify,
  classifyFolder,
  publishedState,
  recoverFolder,
  sweepStaleTmps,
  itemsNamed,
  itemsMatching,
  NO_ITEMS,
  NOTHING_COMMITTED,
  type InProgress,
  type Pending,
  type Committed,
  type CommitState,
  type SinkItems,
  type CommittedSet,
  type PendingRule,
  type Recovery,
  type Published,
  type CommittedItem,
  type CommitSinkOptions,
} from './commit-lifecycle.js';
export {
  Journal,
  loadJournal,
  parseJournal,
  journalTail,
  type JournalOptions,
  type LoadJournalOptions,
  type LoadedJournal,
} from './journal.js';
export {
  acquireLock,
  readLock,
  describeLock,
  isProcessAlive,
  isExiting,
  isLockStale,
  bootTimeMs,
  LOCK_SETTLE_MS,
  redactSecrets,
  type LockInfo,
  type LockHandle,
  type AcquireLockOptions,
} from '../run-folder/lock-file.js';
export {
  ensureRunSpec,
  readRunSpec,
  normalizeRunSpec,
  hashUniverse,
  runSpecHash,
  canonicalJson,
  sanitizeBaseUrl,
  RUN_SPEC_IDENTITY_FIELDS,
  type RunSpec,
  type RunSource,
  type StoredRunSpec,
  type JsonValue,
  type EnsureRunSpecOptions,
  type EnsureRunSpecResult,
} from '../run-folder/run-spec.js';
export {
  writeParquetAtomically,
  parquetFile,
  tradesFrame,
  quotesFrame,
  int64Values,
  TRADES_SCHEMA,
  QUOTES_SCHEMA,
  RECORDS_MAX_ROWS,
  type WriteParquetOptions,
  type ParquetWriteResult,
  type ParquetCompression,
} from './parquet.js';
export {
  ShardWriter,
  loadCompletedSymbols,
  committedShards,
  readShardJournals,
  shardName,
  shardPaths,
  SHARD_ITEMS,
  type ShardJournalLine,
  type CommittedShard,
  type ShardWriterOptions,
  type ShardCommitResult,
  type ShardCleanup,
  type ReadShardStateOptions,
} from './shard-sink.js';
export { CompactIdSet } from './id-set.js';
export { scanJournalLines, scanWindowJournal, type ScannedWindowLine } from '../run-folder/journal-reader.js';
export { COMMITTED_INDEX_NAME, loadCommittedWindows, type CommittedWindows, type IndexUse, type LoadCommittedOptions } from './committed-index.js';
export {
  WindowWriter,
  loadIngestState,
  windowPaths,
  windowComplete,
  windowItems,
  type WindowJournalLine,
  type WindowFailureLine,
  type WindowFailure,
  type IngestState,
  type WindowWriterOptions,
  type WindowCommitResult,
} from './window-sink.js';
