import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pauseFlag$ } from '../../src/streams/pause-flag.js';

function waitFor(values: boolean[], want: boolean[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (JSON.stringify(values) === JSON.stringify(want)) {
        clearInterval(poll);
        resolve(Date.now() - t0);
      } else if (Date.now() - t0 > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`timed out: got ${JSON.stringify(values)}, want ${JSON.stringify(want)}`));
      }
    }, 10);
  });
}

describe('pauseFlag$', () => {
  it.each([
    ['notifications only (recheckMs: 0)', 0],
    ['default recheck', 1000],
  ])('emits the current state, then true within ~1 s of creating PAUSE and false after deleting it: %s', async (_, recheckMs) => {
    const dir = mkdtempSync(join(tmpdir(), 'tickpipe-pause-'));
    const flag = join(dir, 'PAUSE');
    const values: boolean[] = [];
    const sub = pauseFlag$(flag, { recheckMs }).subscribe((v) => values.push(v));
    try {
      expect(values).toEqual([false]);
      await new Promise((r) => setTimeout(r, 150)); // let the watcher get ready
      writeFileSync(join(dir, 'other.txt'), 'x'); // unrelated files are ignored
      writeFileSync(flag, '');
      const on = await waitFor(values, [false, true], 1000);
      rmSync(flag);
      const off = await waitFor(values, [false, true, false], 1000);
      console.log(`pauseFlag$ (recheckMs ${recheckMs}): on after ${on} ms, off after ${off} ms`);
    } finally {
      sub.unsubscribe();
    }
  });

  it('starts true when the flag already exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickpipe-pause-'));
    writeFileSync(join(dir, 'PAUSE'), '');
    const values: boolean[] = [];
    pauseFlag$(join(dir, 'PAUSE')).subscribe((v) => values.push(v)).unsubscribe();
    expect(values).toEqual([true]);
  });
});
