/**
 * Loaded with `node --import` by benchmark 8 into the CLI it spawns: writes the process's peak RSS
 * (KiB, `resourceUsage().maxRSS`) and its CPU time (ms, user + system, all threads) to
 * `$BENCH_RSS_FILE` as `KiB ms` when it exits. Changes nothing else.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => {
  const u = process.resourceUsage();
  writeFileSync(file, `${u.maxRSS} ${Math.round((u.userCPUTime + u.systemCPUTime) / 1000)}`);
});
