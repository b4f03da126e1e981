/**
 * Messages between the window pool (main thread) and a window worker. One window lives in one
 * worker from `open` to `close`; every request but `open`/`close` gets one reply with its `seq`.
 */
import { ProtocolError, RowValueError } from '../errors.js';
import type { ParquetFileSettings } from '../sinks/parquet.js';
import type { PageHeader, TickKind } from '../streams/column-scanner.js';

export type ToWorker =
  | { readonly op: 'open'; readonly id: number; readonly bucketNs: number }
  /** One response body (transferred), scanned into the window's trades or quotes. Reply: PageHeader. */
  | { readonly op: 'page'; readonly seq: number; readonly id: number; readonly kind: TickKind; readonly body: ArrayBuffer; readonly offset: number; readonly length: number; readonly label: string }
  /** Builds both frames (kept in the worker). Reply: {@link FramesReply}. */
  | { readonly op: 'frames'; readonly seq: number; readonly id: number }
  /** Writes one frame as Parquet into a tmp path chosen by the main thread. Reply: null. */
  | { readonly op: 'write'; readonly seq: number; readonly id: number; readonly kind: TickKind; readonly path: string; readonly settings: ParquetFileSettings }
  | { readonly op: 'close'; readonly id: number };

export interface FramesReply {
  readonly trades: number;
  readonly quotes: number;
  readonly repeatedRows: number;
}

/** An error as it crosses the thread boundary: enough to rebuild the typed error on the main thread. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly status?: number | undefined;
  readonly label?: string;
  readonly detail?: string;
  /** errno code of a system error (ENOSPC…), kept for the disk-error mapping. */
  readonly errno?: string;
}

export type FromWorker = { readonly seq: number; readonly ok: PageHeader | FramesReply | null } | { readonly seq: number; readonly error: WireError };

export function toWire(e: unknown): WireError {
  if (e instanceof RowValueError) return { name: 'RowValueError', message: e.message, label: e.label, detail: e.detail };
  if (e instanceof ProtocolError) return { name: 'ProtocolError', message: e.message, status: e.status };
  const err = e instanceof Error ? e : new Error(String(e));
  const errno = (err as NodeJS.ErrnoException).code;
  return { name: err.name, message: err.message, ...(typeof errno === 'string' ? { errno } : {}) };
}

export function fromWire(w: WireError): Error {
  if (w.name === 'RowValueError') return new RowValueError(w.label ?? '', w.detail ?? w.message);
  if (w.name === 'ProtocolError') return new ProtocolError(w.message, w.status);
  const err: NodeJS.ErrnoException = new Error(w.message);
  if (w.errno !== undefined) err.code = w.errno;
  return err;
}

/**
 * How much a window worker raises its own thread's nice value on Linux, above the process's: the
 * main thread (HTTP, the token bucket's timers, the commit) then gets a core first when the machine
 * is short of them, and the workers take what is left. Benchmark 12 on 2 cores, alternating with
 * the same code at +0 (BENCHMARKS.md, seventh pass): event-loop p99 busy 20–22 ms in four runs (27–66
 * in six at +0), in-play 33–35 ms (32–100 at +0); windows/s within the runs' spread, in-play ~10%
 * lower on average (the simulator on the same two cores then gets more of them).
 */
export const WINDOW_WORKER_NICE = 5;
