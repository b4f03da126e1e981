/**
 * `tickpipe/ops`: the operations on a run folder that the CLI commands are built on, for scripts
 * that check, repair or report on runs (a nightly `verifyRun`, a report after each run, …).
 *
 * @example
 * ```ts
 * import { runStatus, verifyRun, writeReport } from 'tickpipe/ops';
 * const status = await runStatus('./tickpipe-data');
 * const { ok } = await verifyRun('./tickpipe-data');
 * const { path } = await writeReport('./tickpipe-data');
 * console.log(status.ingest?.windowsDone, ok, path);
 * ```
 */
export { runStatus, type StatusReport, type StatusLock, type StatusOptions } from './status.js';
export { verifyRun, VERIFY_PROBLEMS, type VerifyResult, type VerifyProblem, type VerifyProblemKind, type VerifyOptions } from './verify.js';
export { cleanRun, type CleanResult, type CleanAction, type CleanActionKind, type CleanOptions } from './clean.js';
export { reconcileRun, type ReconcileResult, type ReconcileChange, type ReconcileOptions, type RemovedWindowFolder } from './reconcile.js';
export { adopt, parseEventId, type AdoptOptions, type AdoptResult, type AdoptedWindow, type ParsedEventId } from './adopt.js';
export { buildReport, renderReportHtml, writeReport, type ReportData, type BuildReportOptions, type WriteReportOptions } from './report.js';
export { emptyTailState, foldHeartbeat, tailView, renderTail, FileFollower, StateReader, type TailState, type TailViewData, type WorkerView } from './tail.js';
export { openRunFolder, listJournals, parquetRowCount, readLocks, readRunFolder, type RunFolder, type RunFolderModel, type LockState, type CompactLockState } from '../run-folder/index.js';
