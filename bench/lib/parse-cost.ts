/**
 * Benchmark 9 (issue 16): CPU per row of turning recorded trades/quotes pages into the frames a
 * window writes, three ways on the same bytes: a bare `JSON.parse` (the reference a plain loop pays),
 * the row path (losslessParse → objects → downsampleQuotes → tradesFrame/quotesFrame) and the column
 * path (byte scanner → typed columns → columnsFrame), and the column path plus zstd Parquet encoding.
 * Process CPU time (user + system, all threads), one thread doing the work.
 */
import { request } from 'undici';
import { lastValueFrom, from, mergeMap, toArray } from 'rxjs';
import { bucketNsForHz, downsampleQuotes } from '../../src/operators/downsample-quotes.js';
import { columnsFrame } from '../../src/streams/column-frame.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { startSim } from '../../src/sim/index.js';
import type { Density } from '../../src/sim/market.js';
import { parseDay, sessionStartMs } from '../../src/sim/calendar.js';
import { TickColumns, scanTicksPage } from '../../src/streams/column-scanner.js';
import { losslessParse } from '../../src/codec/lossless-json.js';
import type { Quote, Trade } from '../../src/types.js';

export interface ParseCost {
  readonly density: Density;
  readonly rows: number;
  readonly bytes: number;
  readonly jsonParseUsPerRow: number;
  readonly rowPathUsPerRow: number;
  readonly columnPathUsPerRow: number;
  /** The column path plus zstd Parquet encoding of both frames (in memory): all of a window's per-row CPU but HTTP. */
  readonly columnPathParquetUsPerRow: number;
}

type Window = { trades: Buffer[]; quotes: Buffer[] };

async function recordWindows(density: Density, count: number): Promise<Window[]> {
  const sim = await startSim({ seed: 7, density });
  try {
    const out: Window[] = [];
    const base = BigInt(sessionStartMs(parseDay('2024-03-07')!)) * 1_000_000n;
    for (let k = 0; k < count; k++) {
      const lo = base + BigInt(330 + 37 * k) * 60_000_000_000n;
      const hi = lo + 30n * 60_000_000_000n - 1n;
      const w: Window = { trades: [], quotes: [] };
      for (const kind of ['trades', 'quotes'] as const) {
        let url: string | undefined = `${sim.url}/v3/${kind}/BOXL?timestamp.gte=${lo}&timestamp.lte=${hi}&order=asc&sort=timestamp&limit=50000&apiKey=k`;
        while (url) {
          const res: Awaited<ReturnType<typeof request>> = await request(url);
          const buf: Buffer = Buffer.from(await res.body.arrayBuffer());
          w[kind].push(buf);
          const next: string | undefined = (JSON.parse(buf.toString('utf8')) as { next_url?: string }).next_url;
          url = next ? `${next}&apiKey=k` : undefined;
        }
      }
      out.push(w);
    }
    return out;
  } finally {
    await sim.close();
  }
}

function cpuUs<T>(fn: () => T): [T, number] {
  const c0 = process.cpuUsage();
  const r = fn();
  const c = process.cpuUsage(c0);
  return [r, c.user + c.system];
}

async function cpuUsAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const c0 = process.cpuUsage();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return [r, c.user + c.system];
}

export async function measureParseCost(density: Density, windows: number, hz = 1): Promise<ParseCost> {
  const ws = await recordWindows(density, windows);
  let rows = 0;
  let bytes = 0;
  for (const w of ws) {
    for (const b of [...w.trades, ...w.quotes]) {
      bytes += b.length;
      rows += (JSON.parse(b.toString('utf8')) as { results: unknown[] }).results.length;
    }
  }
  const bucket = Number(bucketNsForHz(hz));
  // Warm-up of every path (JIT, Polars), then the timed passes.
  const pass = {
    json: () => {
      for (const w of ws) for (const b of [...w.trades, ...w.quotes]) JSON.parse(b.toString('utf8'));
    },
    rows: async () => {
      for (const w of ws) {
        const t = w.trades.flatMap((b) => (losslessParse(b.toString('utf8')) as { results: Trade[] }).results);
        const pages = w.quotes.map((b) => (losslessParse(b.toString('utf8')) as { results: Quote[] }).results);
        const q = await lastValueFrom(from(pages).pipe(downsampleQuotes(hz), mergeMap((x) => x), toArray()), { defaultValue: [] as Quote[] });
        tradesFrame(t);
        quotesFrame(q);
      }
    },
    columns: (parquet = false) => {
      for (const w of ws) {
        const t = new TickColumns('trades');
        for (const b of w.trades) scanTicksPage(b, t, 'bench');
        const q = new TickColumns('quotes', bucket);
        for (const b of w.quotes) scanTicksPage(b, q, 'bench');
        const tf = columnsFrame(t);
        const qf = columnsFrame(q);
        if (parquet) {
          tf.writeParquet({ compression: 'zstd' });
          qf.writeParquet({ compression: 'zstd' });
        }
      }
    },
  };
  pass.json();
  await pass.rows();
  pass.columns(true);
  const [, jsonUs] = cpuUs(pass.json);
  const [, rowUs] = await cpuUsAsync(pass.rows);
  const [, colUs] = cpuUs(() => pass.columns());
  const [, pqUs] = cpuUs(() => pass.columns(true));
  return { density, rows, bytes, jsonParseUsPerRow: jsonUs / rows, rowPathUsPerRow: rowUs / rows, columnPathUsPerRow: colUs / rows, columnPathParquetUsPerRow: pqUs / rows };
}
