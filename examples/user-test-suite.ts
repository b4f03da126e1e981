/**
 * Example: a test suite of your own. It starts tickpipe's simulated market in-process and checks
 * the pipeline against the simulator's ground truth (`simTrades`): what the client pages through
 * and what `ingestStage` writes to disk must be exactly the trades that exist, nanosecond
 * timestamps included, and a second run must download nothing.
 *
 * Plain `node:assert`, so it drops into any runner (vitest, node:test, mocha): call a case from a
 * test, or run them all with `main`.
 *
 *   npx tsc -p tsconfig.examples.json && node dist-examples/user-test-suite.js
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pl from 'nodejs-polars';
import { lastValueFrom, toArray } from 'rxjs';
import { PolygonClient, TokenBucket, fetchTrades, ingestStage, windowPaths } from 'tickpipe';
import { int64Values } from 'tickpipe/sinks';
import { canonicalEventId } from 'tickpipe/streams';
import { simTrades, startSim, type SimServer } from 'tickpipe/sim';

/** What a case gets. */
export interface SuiteContext {
  readonly sim: SimServer;
  readonly seed: number;
  readonly client: PolygonClient;
  /** A fresh folder for this case. */
  readonly dir: string;
}

const MS = 1_000_000n;
// 2024-03-07 09:35 New York, a Thursday.
const T0 = Date.UTC(2024, 2, 7, 14, 35);

/** The cases, by name. */
export const cases: Readonly<Record<string, (ctx: SuiteContext) => Promise<void>>> = {
  async 'the client pages through exactly the simulator trades'({ client, seed }) {
    const gte = BigInt(T0) * MS;
    const lte = BigInt(T0 + 15 * 60_000) * MS;
    const got = await lastValueFrom(fetchTrades(client, 'AAOI', gte, lte));
    const want = simTrades(seed, 'AAOI', gte, lte);
    assert.ok(want.length > 0, 'the window has trades');
    assert.equal(got.length, want.length);
    assert.deepEqual(got.map((t) => t.sip_timestamp), want.map((t) => t.sip_timestamp)); // bigint, exact
    assert.deepEqual(got.map((t) => t.price), want.map((t) => t.price));
  },

  async 'ingestStage writes exactly the simulator trades, once'({ client, seed, dir }) {
    const events = [
      { symbol: 'AAOI', type: 'my_signal', ms: T0 },
      { symbol: 'BOXL', type: 'my_signal', ms: T0 + 3_600_000 },
    ];
    const manifest = join(dir, 'manifest.csv');
    await writeFile(manifest, `symbol,event_type,timestamp\n${events.map((e) => `${e.symbol},${e.type},${e.ms}`).join('\n')}\n`);
    const window = { beforeMs: 60_000, afterMs: 120_000 };
    const out = join(dir, 'run');
    const first = await lastValueFrom(ingestStage({ outDir: out, manifestPath: manifest, client, window, concurrency: 4 }).pipe(toArray()));
    assert.equal(first.filter((p) => p.kind === 'window').length, 2);

    for (const e of events) {
      const id = canonicalEventId(e.symbol, e.type, e.ms);
      const df = pl.readParquet(windowPaths(out, e.symbol, id).trades);
      const want = simTrades(seed, e.symbol, BigInt(e.ms - window.beforeMs) * MS, BigInt(e.ms + window.afterMs) * MS);
      assert.equal(df.height, want.length, `${id}: row count`);
      // int64Values, not Series.toArray(): nanoseconds exceed 2^53 and toArray() would round them.
      const sip = int64Values(df, 'sip_timestamp');
      assert.deepEqual(sip, want.map((t) => t.sip_timestamp), `${id}: sip_timestamp exact`);
    }

    // Exactly once: a second run finds both windows in the journal and sends no request.
    const before = client.metrics().requests;
    const second = await lastValueFrom(ingestStage({ outDir: out, manifestPath: manifest, client, window }).pipe(toArray()));
    // A CSV manifest's total comes from a row count beside the pass (`total`), so only the final
    // counts and the absence of any window are certain here.
    assert.deepEqual(second.filter((p) => p.kind === 'counted'), [{ kind: 'counted', total: 2, completed: 2, failedBefore: 0, duplicates: 0, pending: 0 }]);
    assert.deepEqual(second.filter((p) => p.kind === 'window' || p.kind === 'failed'), []);
    assert.equal(client.metrics().requests, before);
  },
};

/** Options of {@link main}. */
export interface SuiteOptions {
  /** Simulator seed. @default 7 */
  readonly seed?: number;
  /** Folder for the cases' files (removed afterwards). @default a new temp folder */
  readonly dir?: string;
}

/** Runs every case against a fresh in-process simulator; throws on the first failure. */
export async function main(opts: SuiteOptions = {}): Promise<{ passed: string[] }> {
  const seed = opts.seed ?? 7;
  const sim = await startSim({ seed, host: '127.0.0.1', port: 0 });
  const client = new PolygonClient({ baseUrl: sim.url, apiKey: 'test', bucket: new TokenBucket({ rate: 500 }) });
  const root = opts.dir ?? (await mkdtemp(join(tmpdir(), 'tickpipe-suite-')));
  const passed: string[] = [];
  try {
    let i = 0;
    for (const [name, run] of Object.entries(cases)) {
      const dir = join(root, `case-${i++}`);
      await mkdir(dir, { recursive: true });
      await run({ sim, seed, client, dir });
      passed.push(name);
    }
    return { passed };
  } finally {
    await client.close();
    await sim.close();
    if (opts.dir === undefined) await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { passed } = await main();
  for (const name of passed) console.log(`ok - ${name}`);
}
