/**
 * Bad inputs through the real built CLI: each is refused with exactly one line on stderr naming
 * the problem, the documented exit status (2 usage/input/lock/mismatch, 3 auth, 1 network), and
 * nothing half-written (no run folder, or the existing one unchanged).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';
import { lines, runCli, spawnCli } from '../support/cli.js';

let dir: string;
let sim: SimServer;
let slowSim: SimServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-bad-'));
  sim = await startSim({ seed: 11, apiKey: 'right' });
  // Two requests a second: a run against it holds its locks long enough to be raced.
  slowSim = await startSim({ seed: 11, rate: 2 });
  const w = (name: string, text: string) => writeFileSync(join(dir, name), text);
  w('ok.txt', 'AAPL\nMSFT\n');
  w('one.txt', 'AAPL\n');
  w('empty.txt', '# nothing here\n\n');
  w('wrongcol.csv', 'name,price\nAAPL,1\n');
  w('dotdot.txt', '../etc\n');
  w('space.txt', 'A B\n');
  w('long.txt', `${'ABCDEFGHIJ'.repeat(4)}\n`);
  w('escape.txt', 'AAPL\n../x\n');
  w('dups.txt', 'AAPL\nAAPL\nMSFT\n');
});

afterAll(async () => {
  await sim?.close();
  await slowSim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const outOf = (name: string) => join(dir, `out-${name}`);
const base = (out: string, universe = 'ok.txt') => ['run', '--universe', join(dir, universe), '--from', '2024-03-04', '--to', '2024-03-05', '--out', out, '--no-progress'];

/** The run folder was not created, or holds nothing. */
function nothingWritten(out: string): void {
  if (existsSync(out)) expect(readdirSync(out)).toEqual([]);
}

async function refused(args: string[], code: number, re: RegExp, out?: string): Promise<string> {
  const r = await runCli(args, { timeoutMs: 60_000 });
  expect(r.timedOut).toBe(false);
  expect(lines(r.stderr), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  expect(r.code, r.stderr).toBe(code);
  if (out !== undefined) nothingWritten(out);
  return r.stderr;
}

describe('bad inputs (real CLI)', () => {
  it.concurrent('missing universe file → exit 2, names the file', async () => {
    const out = outOf('missing');
    await refused(['run', '--universe', join(dir, 'nope.txt'), '--from', '2024-03-04', '--to', '2024-03-05', '--out', out], 2, /not found.*nope\.txt/, out);
  });

  it.concurrent('empty universe → exit 2', async () => {
    const out = outOf('empty');
    await refused(base(out, 'empty.txt'), 2, /no symbols.*empty\.txt/, out);
  });

  it.concurrent('csv without symbol/ticker column → exit 2, lists the columns found', async () => {
    const out = outOf('wrongcol');
    await refused(base(out, 'wrongcol.csv'), 2, /no "symbol" or "ticker" column.*"name"/, out);
  });

  it.concurrent.each([
    ['dotdot.txt', /invalid symbol "\.\.\/etc"/],
    ['space.txt', /invalid symbol "A B"/],
    ['long.txt', /invalid symbol "ABCDEFGHIJ.*longer than/],
  ])('invalid symbol in %s → exit 2 with the line number', async (file, re) => {
    const out = outOf(file);
    const msg = await refused(base(out, file), 2, re, out);
    expect(msg).toMatch(new RegExp(`${file.replace('.', '\\.')}:1:`));
  });

  it.concurrent('--from after --to → exit 2', async () => {
    const out = outOf('order');
    await refused(['run', '--universe', join(dir, 'ok.txt'), '--from', '2024-03-08', '--to', '2024-03-04', '--out', out], 2, /--from 2024-03-08 is after --to 2024-03-04/, out);
  });

  it.concurrent('impossible date 2024-13-45 → exit 2', async () => {
    const out = outOf('date');
    await refused(['run', '--universe', join(dir, 'ok.txt'), '--from', '2024-13-45', '--to', '2024-03-04', '--out', out], 2, /2024-13-45/, out);
  });

  it.concurrent('unknown flag → exit 2, names the flag', async () => {
    const out = outOf('flag');
    await refused([...base(out), '--bogus'], 2, /--bogus/, out);
  });

  it.concurrent('bad --rate → exit 2, shows the value', async () => {
    const out = outOf('rate');
    await refused([...base(out), '--rate', 'fast'], 2, /--rate.*"fast"/, out);
  });

  it.concurrent('--base-url without a key → exit 2', async () => {
    const out = outOf('nokey');
    await refused([...base(out), '--base-url', sim.url], 2, /API key/, out);
  });

  it.concurrent('refused key → exit 3, nothing written, key not echoed', async () => {
    const out = outOf('refused');
    const msg = await refused([...base(out), '--base-url', sim.url, '--api-key', 'wrong'], 3, /401/, out);
    expect(msg).not.toContain('wrong');
  });

  it.concurrent('unreachable host → exit 1 quickly, one line, nothing written', async () => {
    const out = outOf('unreachable');
    await refused([...base(out), '--base-url', 'http://127.0.0.1:1', '--api-key', 'k'], 1, /cannot reach the API at http:\/\/127\.0\.0\.1:1\b.*ECONNREFUSED/, out);
  });

  it.concurrent('consolidate on a folder that is not a run folder → exit 2, folder untouched', async () => {
    const out = outOf('notrun');
    mkdirSync(out);
    writeFileSync(join(out, 'hello.txt'), 'hi');
    await refused(['consolidate', '--out', out], 2, /not a tickpipe run folder/);
    expect(readdirSync(out)).toEqual(['hello.txt']);
  });

  it.concurrent('universe with ../x is refused before anything is written', async () => {
    const out = outOf('escape');
    await refused(base(out, 'escape.txt'), 2, /invalid symbol "\.\.\/x"/, out);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('duplicate symbols → one warning, the run still completes', async () => {
    const out = outOf('dups');
    const r = await runCli(['run', '--universe', join(dir, 'dups.txt'), '--from', '2024-03-04', '--to', '2024-03-04', '--out', out, '--no-progress', '--base-url', sim.url, '--api-key', 'right', '--workers', '1']);
    expect(r.code, r.stderr).toBe(0);
    const warnings = lines(r.stderr).filter((l) => /warning/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/1 duplicate symbol.*AAPL/);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).universe.count).toBe(2);
  });

  it('a run folder of another run (different --from) → exit 2 naming the field, folder unchanged', async () => {
    const out = outOf('mismatch');
    const args = ['--universe', join(dir, 'one.txt'), '--to', '2024-03-04', '--out', out, '--no-progress', '--base-url', sim.url, '--api-key', 'right', '--workers', '1', '--stage', 'detect'];
    const first = await runCli(['run', '--from', '2024-03-04', ...args]);
    expect(first.code, first.stderr).toBe(0);
    const before = readFileSync(join(out, 'run.json'), 'utf8');
    const msg = await refused(['run', '--from', '2024-03-01', ...args], 2, /different run/);
    expect(msg).toMatch(/\bfrom\b/);
    expect(readFileSync(join(out, 'run.json'), 'utf8')).toBe(before);
  });

  it('a second process on the same partitions → exit 2 naming the holder pid and host', async () => {
    const out = outOf('locked');
    // 6 requests a minute: the holder's stage 1 (2 symbols) lasts >= 10 s, so it still holds its lock
    // when the second process starts, even on a loaded machine (at 2/s it could finish stage 1 first).
    const args = ['run', '--universe', join(dir, 'ok.txt'), '--from', '2024-03-04', '--to', '2024-03-08', '--out', out, '--no-progress', '--base-url', slowSim.url, '--api-key', 'k', '--workers', '1', '--rate', '6/min'];
    const holder = spawnCli(args, { timeoutMs: 120_000 });
    try {
      await holder.waitFor(/detect: \d+ symbol\(s\) for worker/, 60_000);
      expect(existsSync(join(out, 'state', 'detect', 'worker-0.lock'))).toBe(true);
      const msg = await refused(args, 2, /locked by pid \d+ on \S+/);
      expect(msg).toContain(`pid ${holder.pid} on `);
      // The refused process must not have taken or removed the holder's lock (detect's or, if the
      // holder got that far, ingest's), nor consolidated behind the holder's back.
      const lock = /(\S+\.lock) is locked/.exec(msg)![1]!;
      let heldBy: number | undefined;
      try {
        heldBy = (JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (heldBy !== undefined) expect(heldBy).toBe(holder.pid);
      // Gone: the holder itself finished that stage and released it (under load the refused process
      // can take longer than the holder's stage 1); its output says it moved on.
      else expect(holder.stdout() + holder.stderr()).toMatch(/consolidated \d+ events|ingest: /);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.done;
    }
  });
});
