/**
 * tickpipe sources: the Polygon client's paged streams, universe and manifest readers, the
 * pull-driven source for large inputs, the pause flag, and the canonical event ID.
 *
 * @example
 * import { PolygonClient, readUniverse, readManifest, pullMap } from 'tickpipe/streams';
 */
export {
  PolygonClient,
  createPolygonClient,
  parseRetryAfter,
  type PolygonClientOptions,
  type AggregatesOptions,
  type TickRangeOptions,
  type PolygonLogger,
  type ClientMetrics,
  type Query,
  type QueryValue,
} from './polygon-client.js';
export { HttpMetrics, LatencyHistogram, type HttpMetricsSnapshot, type LatencySnapshot } from './http/metrics.js';
export { losslessParse, losslessStringify, type LosslessParseOptions } from '../codec/lossless-json.js';
export { readUniverse, universeIndex, SYMBOL_COLUMNS, type Universe, type UniverseFormat } from './universe.js';
export { validateSymbol, symbolProblem, SYMBOL_PATTERN, MAX_SYMBOL_LENGTH } from './symbols.js';
export {
  readManifest,
  readManifestBatches,
  manifestRowCount,
  ManifestBatch,
  openManifest,
  MANIFEST_COLUMNS,
  EVENT_TYPE_PATTERN,
  type ManifestEvent,
  type ManifestInfo,
  type ReadManifestOptions,
  type TimestampKind,
} from './manifest.js';
export {
  canonicalEventId,
  canonicalEventIdWithIso,
  pythonIsoformat,
  parsePythonTimestamp,
  toUtcInstant,
  type TimestampInput,
  type UtcInstant,
} from './event-id.js';
export { pullMap, filterAsync, mapAsync, type PullMapOptions } from './pull.js';
export { pauseFlag$, type PauseFlagOptions } from './pause-flag.js';
