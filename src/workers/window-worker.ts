/**
 * A window worker (worker_threads): holds the columns of the windows the pool gave it, scans each
 * page's bytes into them (downsampling quotes while reading), builds the two frames and writes them
 * as Parquet into tmp paths the main thread chose. All of the per-row work of stage 2 happens here,
 * off the main event loop; the main thread keeps HTTP, the token bucket, fsync/rename and the journal.
 */
import { parentPort } from 'node:worker_threads';
import type pl from 'nodejs-polars';
import { columnsFrame } from '../streams/column-frame.js';
import { writeParquetFile } from '../sinks/parquet.js';
import { TickColumns, scanPageInto } from '../streams/column-scanner.js';
import { toWire, type FramesReply, type FromWorker, type ToWorker } from './window-protocol.js';

interface HeldWindow {
  readonly trades: TickColumns;
  readonly quotes: TickColumns;
  frames?: { readonly trades: pl.DataFrame; readonly quotes: pl.DataFrame };
}

const windows = new Map<number, HeldWindow>();
const port = parentPort;
if (!port) throw new Error('window-worker: not started as a worker thread');

function held(id: number): HeldWindow {
  const w = windows.get(id);
  if (!w) throw new Error(`window-worker: no window ${id} (closed or never opened)`);
  return w;
}

function framesOf(w: HeldWindow): FramesReply {
  w.frames = { trades: columnsFrame(w.trades), quotes: columnsFrame(w.quotes) };
  return { trades: w.trades.length, quotes: w.quotes.length, repeatedRows: w.trades.repeatedRows + w.quotes.repeatedRows };
}

async function handle(m: ToWorker): Promise<unknown> {
  switch (m.op) {
    case 'open':
      windows.set(m.id, { trades: new TickColumns('trades'), quotes: new TickColumns('quotes', m.bucketNs) });
      return undefined;
    case 'close':
      windows.delete(m.id);
      return undefined;
    case 'page':
      return scanPageInto(held(m.id)[m.kind], new Uint8Array(m.body, m.offset, m.length), m.label);
    case 'frames':
      return framesOf(held(m.id));
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
