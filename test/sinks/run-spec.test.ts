import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, RunMismatchError } from '../../src/errors.js';
import { canonicalJson, ensureRunSpec, hashUniverse, readRunSpec, runSpecHash, type RunSpec } from '../../src/run-folder/run-spec.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const universe = { hash: hashUniverse(['MSFT', 'AAPL']), count: 2 };
const detect: RunSpec = {
  version: 1,
  universe,
  from: '2023-01-03',
  to: '2023-12-29',
  detectors: { flush: { minDrop: 0.05, windowMin: 5 }, vwapBreak: { minVolume: 1000 } },
  source: { baseUrl: 'https://api.polygon.io/' },
};

describe('run spec', () => {
  it('hashUniverse sorts and de-duplicates', () => {
    expect(hashUniverse(['MSFT', 'AAPL', 'AAPL'])).toBe(hashUniverse(['AAPL', 'MSFT']));
    expect(hashUniverse(['AAPL'])).not.toBe(hashUniverse(['AAPL', 'MSFT']));
    expect(hashUniverse(['AAPL', 'MSFT'])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('canonical JSON sorts keys, so hashes do not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe('{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}');
    const reordered = { source: detect.source, detectors: detect.detectors, to: detect.to, from: detect.from, universe, version: 1 } as RunSpec;
    expect(runSpecHash(reordered)).toBe(runSpecHash(detect));
  });

  it('writes run.json when absent, accepts the same spec again', async () => {
    const r = await ensureRunSpec(dir, detect, { stage: 'detect' });
    expect(r.created).toBe(true);
    const stored = await readRunSpec(dir);
    expect(stored).toMatchObject({ version: 1, from: '2023-01-03', source: { baseUrl: 'https://api.polygon.io' }, stages: ['detect'] });
    const again = await ensureRunSpec(dir, { ...detect, detectors: { vwapBreak: { minVolume: 1000 }, flush: { windowMin: 5, minDrop: 0.05 } } }, { stage: 'detect' });
    expect(again).toMatchObject({ created: false, extended: [] });
  });

  it('a different spec is refused with one line naming every differing field, old vs new', async () => {
    await ensureRunSpec(dir, detect, { stage: 'detect' });
    const err = await ensureRunSpec(dir, {
      ...detect,
      from: '2022-01-03',
      detectors: { flush: { minDrop: 0.1, windowMin: 5 }, vwapBreak: { minVolume: 1000 } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunMismatchError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain('from: "2023-01-03" in run.json vs "2022-01-03" now');
    expect(msg).toContain('detectors.flush.minDrop: 0.05 in run.json vs 0.1 now');
    expect(msg).not.toContain('universe');
    expect(msg).toContain(join(dir, 'run.json'));
  });

  it('a later stage may extend the spec; fields it omits are kept', async () => {
    await ensureRunSpec(dir, detect, { stage: 'detect' });
    const r = await ensureRunSpec(
      dir,
      { version: 1, universe, window: { beforeMs: 60_000, afterMs: 300_000 }, quotesHz: 1, source: { baseUrl: 'https://api.polygon.io' } },
      { stage: 'ingest' },
    );
    expect(r.extended).toEqual(['window', 'quotesHz']);
    const stored = await readRunSpec(dir);
    expect(stored).toMatchObject({ ...detect, source: { baseUrl: 'https://api.polygon.io' }, window: { beforeMs: 60_000, afterMs: 300_000 }, quotesHz: 1, stages: ['detect', 'ingest'] });
    // and now the window is part of the identity
    await expect(ensureRunSpec(dir, { ...detect, window: { beforeMs: 60_000, afterMs: 600_000 } })).rejects.toThrow(
      /window\.afterMs: 300000 in run\.json vs 600000 now/,
    );
  });

  it('a different source is a mismatch (simulator vs real API)', async () => {
    await ensureRunSpec(dir, { version: 1, source: { sim: { seed: 7 } } });
    await expect(ensureRunSpec(dir, { version: 1, source: { sim: { seed: 8 } } })).rejects.toThrow(/source\.sim\.seed: 7 in run\.json vs 8 now/);
    await expect(ensureRunSpec(dir, { version: 1, source: { baseUrl: 'https://api.polygon.io' } })).rejects.toThrow(/source\.baseUrl: \(absent\) in run\.json/);
  });

  it('never stores a key: extra members are dropped, URL credentials and query stripped', async () => {
    const careless = { ...detect, apiKey: 'SECRETKEY', source: { baseUrl: 'https://user:SECRETKEY@api.polygon.io/v1/?apiKey=SECRETKEY' } };
    await ensureRunSpec(dir, careless as RunSpec);
    const text = await readFile(join(dir, 'run.json'), 'utf8');
    expect(text).not.toMatch(/key/i);
    expect(text).not.toContain('SECRET');
    expect(JSON.parse(text).source).toEqual({ baseUrl: 'https://api.polygon.io/v1' });
  });

  it('identity never comes from the wall clock: the same spec written twice gives identical bytes', async () => {
    await ensureRunSpec(join(dir, 'a'), detect);
    await new Promise((r) => setTimeout(r, 5));
    await ensureRunSpec(join(dir, 'b'), detect);
    expect(await readFile(join(dir, 'a', 'run.json'), 'utf8')).toBe(await readFile(join(dir, 'b', 'run.json'), 'utf8'));
  });

  it('bad specs and a corrupt run.json are InputErrors', async () => {
    await expect(ensureRunSpec(dir, { ...detect, from: '2023-13-45' })).rejects.toBeInstanceOf(InputError);
    await expect(ensureRunSpec(dir, { ...detect, from: '2024-01-01', to: '2023-01-01' })).rejects.toThrow(/after/);
    await writeFile(join(dir, 'run.json'), '{nope');
    await expect(ensureRunSpec(dir, detect)).rejects.toThrow(/run\.json: not valid JSON/);
  });
});
