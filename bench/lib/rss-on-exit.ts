/**
 * Loaded with `node --import` by benchmark 8 into the CLI it spawns: writes the process's peak RSS
 * (KiB, `resourceUsage().maxRSS`) to `$BENCH_RSS_FILE` when it exits. Changes nothing else.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
