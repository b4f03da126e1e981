/**
 * Entry points of the JS kernel: which detectors of a run it takes, and its events for one symbol
 * or a batch of symbols. The kernel runs on the event loop, in slices: it yields every
 * {@link SLICE_BARS} bars (within a symbol and across the symbols of a batch), ~10–20 ms of work,
 * so HTTP timers and sockets of stage 1 keep their turn without a worker thread's copy of the bars.
 */
import type { Bar, EventRow } from '../types.js';
import type { Detector } from './detector.js';
import { BuiltinKernel, type KernelDetector } from './kernel.js';
import { scanSymbol } from './kernel-scan.js';
import { kernelSpecOf } from './kernel-spec.js';
import { SLICE_BARS, yieldToLoop } from './prepare.js';

/** A run's detectors split between the kernel (unmodified built-ins) and Polars (all others). */
export interface DetectorSplit {
  readonly kernel: readonly KernelDetector[];
  readonly polars: readonly Detector[];
}

/** Splits `detectors` (already validated) into those the kernel runs and those Polars runs. */
export function splitDetectors(detectors: readonly Detector[]): DetectorSplit {
  const kernel: KernelDetector[] = [];
  const polars: Detector[] = [];
  for (const detector of detectors) {
    const spec = kernelSpecOf(detector);
    if (spec === undefined) polars.push(detector);
    else kernel.push({ detector, spec });
  }
  return { kernel, polars };
}

/**
 * Events of the kernel's detectors over one symbol's bars (unsorted); bad bars throw as prepare
 * does. Gives the event loop a turn before resolving, as the Polars path's native collect did: a
 * caller looping over many small symbols (no slice boundary inside) would otherwise hold it for
 * the whole loop, since awaiting a resolved promise only runs microtasks (measured in
 * detect.bench.ts: no event-loop turn during 50 calls of 20,000 bars).
 */
export async function kernelEvents(bars: readonly Bar[], symbol: string, detectors: readonly KernelDetector[]): Promise<EventRow[]> {
  // One kernel per call: calls for different symbols may interleave at the kernel's yields.
  const rows = await scanSymbol(bars, symbol, new BuiltinKernel(detectors));
  await yieldToLoop();
  return rows;
}

/** One symbol's bars, as {@link kernelEventsBatch} takes them. */
export interface KernelBatchEntry {
  readonly symbol: string;
  readonly bars: readonly Bar[];
}

/**
 * Events of the kernel's detectors for each entry, in input order (unsorted within a symbol). The
 * symbols run one after another; the event loop gets a turn inside a symbol every
 * {@link SLICE_BARS} bars and between symbols once {@link SLICE_BARS} bars have run since the last
 * turn (so at most about two slices, ~20–40 ms, run without one).
 */
export async function kernelEventsBatch(batch: readonly KernelBatchEntry[], detectors: readonly KernelDetector[]): Promise<EventRow[][]> {
  const kernel = new BuiltinKernel(detectors);
  const out: EventRow[][] = [];
  let sinceYield = 0;
  for (const { symbol, bars } of batch) {
    out.push(await scanSymbol(bars, symbol, kernel));
    sinceYield += Array.isArray(bars) ? bars.length : 0;
    if (sinceYield >= SLICE_BARS) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  return out;
}
