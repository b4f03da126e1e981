/**
 * Child of benchmark 11: compacts a run folder in a fresh process and prints the time and the
 * process's peak RSS (Polars' native memory included), so generation in the parent does not count.
 *
 * Args: the run folder.
 */
import { performance } from 'node:perf_hooks';
import { compact } from '../../src/dataset/compact.js';
import { peakRssMB } from './common.js';

const t0 = performance.now();
const r = await compact(process.argv[2]!);
console.log(JSON.stringify({ ms: performance.now() - t0, maxRssMB: peakRssMB(), parts: r.parts, windows: r.windows }));
