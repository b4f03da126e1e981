/**
 * Event detection over minute bars, the pluggable {@link Detector} interface, detector modules,
 * and the New York trading-session calendar (`tickpipe/detect`).
 *
 * @example
 * ```ts
 * import { builtinDetectors, candidateColumns, detectEvents, type Detector } from 'tickpipe/detect';
 * const rows = await detectEvents(bars, 'ABCD', builtinDetectors());
 * ```
 */
export {
  AH_END_MINUTE,
  PM_START_MINUTE,
  RTH_END_MINUTE,
  RTH_START_MINUTE,
  epochDayToIso,
  epochDayToYmd,
  isNyseHoliday,
  nyEpochDay,
  nyLocalParts,
  nyOffsetMinutes,
  parseDay,
  sessionOf,
  sessionOfMinute,
  tradingDays,
  type TradingDaysOptions,
} from './calendar.js';
export { candidateColumns, type Detector, type DetectorContext, type SharedPlanPart } from './detector.js';
export { prepareBars, prepareColumns, prepareColumnsAsync, preparedFrame, preparedFrameAsync, type PreparedBars } from './prepare.js';
export {
  DEFAULT_MAX_BARS_PER_PLAN,
  detectEvents,
  detectEventsBatch,
  detectEventsPerSymbol,
  validateDetectors,
  type DetectBatchOptions,
  type DetectEngine,
  type SymbolBars,
} from './detect-events.js';
export { EVENT_COLUMNS, EVENT_SCHEMA, emptyEventsDataFrame, eventsFromDataFrame, eventsToDataFrame } from './event-frame.js';
export { openingRangeBreak, type OpeningRangeBreakOptions } from './opening-range-break.js';
export { vwapBreak, type VwapBreakOptions } from './vwap-break.js';
export { flush, type FlushOptions } from './flush.js';
export { volumeSpike, type VolumeSpikeOptions } from './volume-spike.js';
export { builtinDetectorNames, builtinDetectors, detectorsByName } from './registry.js';
export { detectorSpec, loadDetectorModule, selectDetectors, type DetectorModule, type LoadDetectorModuleOptions } from './module-loader.js';
