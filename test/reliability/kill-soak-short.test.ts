/**
 * The kill soak in small (bench/soak.js with 3 kills, 3 symbols, 5 days, the client at 15 req/s so that no run finishes before its kill): the full `tickpipe run`
 * against a faulty simulator process, SIGKILLed at random moments, restarted with random
 * --workers/--concurrency, then completed; the soak checks every file against the simulator's data
 * and `tickpipe verify`. `npm run soak` runs the long version (25 kills).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';

interface SoakResult {
  ok: boolean;
  killsSurvived: number;
  duplicates: number;
  lost: number;
  corrupt: number;
  failedWindows: number;
  failedNotPoisoned: number;
  duplicateManifest?: { ok: boolean };
  keyLeaks: number;
  windows: number;
  events: number;
  finalExit: number;
  verifyCommand: { available: boolean; ok?: boolean };
  problems: string[];
}

function soak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'soak.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('kill soak (short)', () => {
  it('3 SIGKILLs at random moments: no duplicate, nothing lost, nothing corrupt, data equal to the simulator', async () => {
    const r = await soak(['--kills', '3', '--symbols', '3', '--from', '2024-03-04', '--to', '2024-03-08', '--rate', '15/s', '--seed', '5', '--json']);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    const res = JSON.parse(last) as SoakResult;
    expect(res.problems, r.stderr).toEqual([]);
    expect(res.killsSurvived).toBe(3);
    // Data faults: 200-with-error replies are retried; only the poisoned ticker's windows fail (exit 1).
    expect(res.failedNotPoisoned).toBe(0);
    expect(res.failedWindows).toBeGreaterThan(0);
    expect(res.finalExit).toBe(1);
    expect(res.duplicates).toBe(0);
    expect(res.lost).toBe(0);
    expect(res.corrupt).toBe(0);
    expect(res.keyLeaks).toBe(0);
    expect(res.windows + res.failedWindows).toBe(res.events);
    expect(res.duplicateManifest?.ok, JSON.stringify(res.duplicateManifest)).toBe(true);
    expect(res.windows).toBeGreaterThan(0);
    if (res.verifyCommand.available) expect(res.verifyCommand.ok, JSON.stringify(res.verifyCommand)).toBe(true);
    expect(res.ok).toBe(true);
    expect(r.code).toBe(0);
  }, 180_000);
});
