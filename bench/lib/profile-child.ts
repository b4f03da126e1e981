/**
 * Child of the profile: benchmark 3's ingest path (no quota, no added latency, 64 windows in
 * flight) for a fixed time, meant to run under `node --cpu-prof`. The simulator is in another
 * process, so the profile holds only the pipeline. Prints one JSON line.
 *
 * Args: JSON `{ url, manifestPath, outDir, ms }`.
 */
import { startIngest } from './ingest.js';
import { peakRssMB, sleep } from './common.js';

const a = JSON.parse(process.argv[2]!) as { url: string; manifestPath: string; outDir: string; ms: number };
const run = startIngest({ url: a.url, manifestPath: a.manifestPath, outDir: a.outDir, rate: 1_000_000, concurrency: 64, connections: 128 });
await sleep(a.ms);
const r = await run.stop();
console.log(JSON.stringify({ windows: r.windows, sec: a.ms / 1000, maxRssMB: peakRssMB() }));
