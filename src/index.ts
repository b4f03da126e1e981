/**
 * tickpipe: exactly-once, quota-saturating market-data pipelines as RxJS streams.
 *
 * The CLI is built from exactly these parts; a script composing them gets the same guarantees
 * (atomic publish, journals as commit points, partition locks, run identity, one shared token bucket).
 * Sub-paths: `tickpipe/operators`, `tickpipe/streams`, `tickpipe/sinks`, `tickpipe/detect`, `tickpipe/sim`.
 *
 * @example
 * ```ts
 * import { lastValueFrom } from 'rxjs';
 * import { PolygonClient, TokenBucket, detectStage, consolidate, builtinDetectors } from 'tickpipe';
 * const bucket = new TokenBucket({ rate: 50 });
 * const client = new PolygonClient({ baseUrl, apiKey, bucket });
 * await lastValueFrom(detectStage({ outDir: './run', symbols: ['AAOI', 'BOXL'], from: '2024-03-01', to: '2024-03-29', client, detectors: builtinDetectors() }));
 * await consolidate('./run'); // ./run/events/events.parquet
 * ```
 */
export * from './errors.js';
export type * from './types.js';
export * from './operators/index.js';
export * from './streams/index.js';
export {
  publishAtomically,
  CommitSink,
  recoverFolder,
  itemsNamed,
  NOTHING_COMMITTED,
  Journal,
  loadJournal,
  acquireLock,
  ensureRunSpec,
  readRunSpec,
  hashUniverse,
  isTmpName,
  writeParquetAtomically,
  tradesFrame,
  quotesFrame,
  int64Values,
  ShardWriter,
  loadCompletedSymbols,
  committedShards,
  WindowWriter,
  loadIngestState,
  windowPaths,
  windowComplete,
  type WindowJournalLine,
  type ShardJournalLine,
  type RunSpec,
  type FsLayer,
  type FileToPublish,
  type CommitState,
} from './sinks/index.js';
export {
  builtinDetectors,
  builtinDetectorNames,
  detectorsByName,
  detectEvents,
  eventsToDataFrame,
  eventsFromDataFrame,
  candidateColumns,
  validateDetectors,
  loadDetectorModule,
  selectDetectors,
  openingRangeBreak,
  vwapBreak,
  flush,
  volumeSpike,
  tradingDays,
  sessionOf,
  type Detector,
  type DetectorContext,
  type DetectorModule,
} from './detect/index.js';
export { detectStage, fetchMinuteBars, type DetectStageOptions, type DetectProgress, type BarsClient } from './pipeline/detect-stage.js';
export {
  ingestStage,
  fetchTrades,
  fetchQuotes,
  DEFAULT_WINDOW,
  type IngestStageOptions,
  type IngestProgress,
  type EventWindow,
  type WindowsClient,
} from './pipeline/ingest-stage.js';
export { consolidate, manifestPath, type ConsolidateResult } from './pipeline/consolidate.js';
export { compact, type CompactOptions, type CompactResult } from './dataset/compact.js';
export { ownedWorkers, parsePartition, type Partition } from './pipeline/partition.js';
export { openRunLogs, type RunLogs } from './log.js';
export { verifyRun, type VerifyResult, type VerifyOptions } from './ops/verify.js';
