/**
 * A window worker (worker_threads): holds the columns of the windows the pool gave it, scans each
 * page's bytes into them (downsampling quotes while reading), builds the two frames and writes them
 * as Parquet into tmp paths the main thread chose. All of the per-row work of stage 2 happens here,
 * off the main event loop; the main thread keeps HTTP, the token bucket, fsync/rename and the journal.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type pl from 'nodejs-polars';
import { columnsFrame } from '../streams/column-frame.js';
import { writeParquetFile } from '../sinks/parquet.js';
import { TickColumns, scanPageInto, type TickKind } from '../streams/column-scanner.js';
import { WINDOW_WORKER_NICE, toWire, type FramesReply, type FromWorker, type ToWorker } from './window-protocol.js';

interface HeldWindow {
  /** The window's columns until its frames are built (then they go back to {@link spare}). */
  columns: { readonly trades: TickColumns; readonly quotes: TickColumns } | undefined;
  frames?: { readonly trades: pl.DataFrame; readonly quotes: pl.DataFrame };
}

/**
 * Emptied window columns for the next windows, per kind and bucket: a window's columns grow by
 * doubling from 1,024 rows to the window's size, and on busy data a fresh pair per window cost
 * ≈ 0.4 ms of the worker's ≈ 9 ms scan per window in allocation and copies, plus the GC of ≈ 1 MB
 * of typed arrays. A few are kept (they keep the size of the largest window they held).
 */
const spare = new Map<string, TickColumns[]>();
const SPARE_PER_KIND = 4;

function freshColumns(kind: TickKind, bucketNs: number): TickColumns {
  const c = spare.get(`${kind}:${bucketNs}`)?.pop();
  if (!c) return new TickColumns(kind, bucketNs);
  c.reset();
  return c;
}

function recycle(c: TickColumns): void {
  const key = `${c.kind}:${c.bucketNs}`;
  let list = spare.get(key);
  if (!list) spare.set(key, (list = []));
  if (list.length < SPARE_PER_KIND) list.push(c);
}

const windows = new Map<number, HeldWindow>();
const port = parentPort;
lowerThisThreadsPriority();
if (!port) throw new Error('window-worker: not started as a worker thread');

/**
 * Linux keeps a nice value per thread, and `setpriority(PRIO_PROCESS, 0)` (what `os.setPriority(0, n)`
 * calls) sets the calling thread's only. Elsewhere the same call would lower the whole process, so
 * nothing is done. Raising a nice value needs no privilege; a refusal (a sandbox) is ignored.
 */
function lowerThisThreadsPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    setPriority(0, Math.min(19, getPriority(0) + WINDOW_WORKER_NICE));
  } catch {
    // not allowed here: the worker runs at the main thread's priority, as before
  }
}

function held(id: number): HeldWindow {
  const w = windows.get(id);
  if (!w) throw new Error(`window-worker: no window ${id} (closed or never opened)`);
  return w;
}

function columnsOf(w: HeldWindow, id: number): { readonly trades: TickColumns; readonly quotes: TickColumns } {
  if (!w.columns) throw new Error(`window-worker: window ${id} already has its frames (no more pages)`);
  return w.columns;
}

/** Builds both frames (Polars copies the values), then the columns are free for another window. */
function framesOf(w: HeldWindow, id: number): FramesReply {
  const { trades, quotes } = columnsOf(w, id);
  w.frames = { trades: columnsFrame(trades), quotes: columnsFrame(quotes) };
  const reply = { trades: trades.length, quotes: quotes.length, repeatedRows: trades.repeatedRows + quotes.repeatedRows };
  w.columns = undefined;
  recycle(trades);
  recycle(quotes);
  return reply;
}

async function handle(m: ToWorker): Promise<unknown> {
  switch (m.op) {
    case 'open':
      windows.set(m.id, { columns: { trades: freshColumns('trades', 0), quotes: freshColumns('quotes', m.bucketNs) } });
      return undefined;
    case 'close': {
      const c = windows.get(m.id)?.columns;
      windows.delete(m.id);
      if (c) {
        recycle(c.trades);
        recycle(c.quotes);
      }
      return undefined;
    }
    case 'page':
      return scanPageInto(columnsOf(held(m.id), m.id)[m.kind], new Uint8Array(m.body, m.offset, m.length), m.label);
    case 'frames':
      return framesOf(held(m.id), m.id);
    case 'write': {
      const frames = held(m.id).frames;
      if (!frames) throw new Error(`window-worker: window ${m.id} has no frames yet`);
      await writeParquetFile(m.path, frames[m.kind], m.settings);
      return null;
    }
  }
}

port.on('message', (m: ToWorker) => {
  if (m.op === 'open' || m.op === 'close') {
    void handle(m);
    return;
  }
  handle(m).then(
    (ok) => port.postMessage({ seq: m.seq, ok } as FromWorker),
    (e: unknown) => port.postMessage({ seq: m.seq, error: toWire(e) } as FromWorker),
  );
});
