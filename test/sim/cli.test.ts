import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseLatencyOption, simMain } from '../../src/sim/cli.js';
import { get } from '../support/sim-http.js';

function capture(): { stream: PassThrough; text: () => string; firstLine: Promise<string> } {
  const stream = new PassThrough();
  let buf = '';
  let resolveLine: (s: string) => void;
  const firstLine = new Promise<string>((r) => (resolveLine = r));
  stream.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    if (buf.includes('\n')) resolveLine(buf.slice(0, buf.indexOf('\n')));
  });
  return { stream, text: () => buf, firstLine };
}

/** Emits a signal to this process with only simMain's listener in place (vitest's are set aside). */
async function withOnlyOurListeners<T>(sig: 'SIGINT' | 'SIGTERM', before: Set<Function>, fn: () => Promise<T>): Promise<T> {
  const foreign = process.listeners(sig).filter((l) => before.has(l));
  for (const l of foreign) process.off(sig, l as any);
  try {
    return await fn();
  } finally {
    for (const l of foreign) process.on(sig, l as any);
  }
}

describe('tickpipe sim (simMain)', () => {
  it('--help prints the usage and returns 0', async () => {
    const out = capture();
    expect(await simMain(['--help'], { stdout: out.stream })).toBe(0);
    expect(out.text()).toMatch(/^Usage: tickpipe sim/);
    expect(out.text()).toContain('--truncate-rate');
  });

  it('bad flags and values throw UsageError', async () => {
    await expect(simMain(['--nope'])).rejects.toBeInstanceOf(UsageError);
    await expect(simMain(['--error-rate', '2'])).rejects.toThrow(/--error-rate.*"2"/);
    await expect(simMain(['--rate', 'fast'])).rejects.toBeInstanceOf(UsageError);
    await expect(simMain(['--port', '70000'])).rejects.toBeInstanceOf(UsageError);
    await expect(simMain(['--latency', '400ms..50ms'])).rejects.toBeInstanceOf(UsageError);
    await expect(simMain(['--api-key', ''])).rejects.toBeInstanceOf(UsageError);
    await expect(simMain(['--page-threads', '17'])).rejects.toThrow(/--page-threads.*17/);
  });

  it('parses both latency forms', () => {
    expect(parseLatencyOption('--latency', '50ms..400ms')).toEqual({ minMs: 50, maxMs: 400 });
    expect(parseLatencyOption('--latency', 'median=100ms,p99=0.6s')).toEqual({ medianMs: 100, p99Ms: 600 });
    expect(() => parseLatencyOption('--latency', 'median=100ms,p99=50ms')).toThrow(UsageError);
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`prints exactly one line, serves, and resolves 0 on ${sig}`, async () => {
      const before = new Set<Function>(process.listeners(sig));
      const out = capture();
      const run = simMain(['--port', '0', '--seed', '7', '--rate', '100/s', '--latency', '1ms..2ms', '--api-key', 'K', '--retry-after'], {
        stdout: out.stream,
      });
      const line = await out.firstLine;
      expect(line).toMatch(/^tickpipe sim listening on http:\/\/127\.0\.0\.1:\d+$/);
      const url = line.slice('tickpipe sim listening on '.length);
      expect((await get(`${url}/v3/trades/AAOI?timestamp=2024-03-11&limit=1&apiKey=K`)).status).toBe(200);
      expect((await get(`${url}/v3/trades/AAOI?timestamp=2024-03-11&limit=1&apiKey=X`)).status).toBe(401);
      const code = await withOnlyOurListeners(sig, before, async () => {
        process.emit(sig as any);
        return run;
      });
      expect(code).toBe(0);
      expect(out.text()).toBe(`${line}\n`);
      await expect(get(`${url}/v3/reference/tickers?apiKey=K`)).rejects.toThrow();
      // Its signal listeners are gone.
      expect(process.listeners(sig).every((l) => before.has(l))).toBe(true);
    });
  }

  it('--page-threads builds pages on threads: a strict quota with dense pages serves them', async () => {
    const out = capture();
    const ac = new AbortController();
    const run = simMain(['--rate', '50/s', '--quota-mode', 'strict', '--density', 'in-play', '--page-threads', '2'], { stdout: out.stream, signal: ac.signal });
    const url = (await out.firstLine).slice('tickpipe sim listening on '.length);
    const r = await get(`${url}/v3/quotes/AAOI?timestamp=2024-03-11&limit=20000&apiKey=K`);
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { results: unknown[] }).results).toHaveLength(20_000);
    ac.abort();
    expect(await run).toBe(0);
  });

  it('stops on an abort signal too', async () => {
    const out = capture();
    const ac = new AbortController();
    const run = simMain([], { stdout: out.stream, signal: ac.signal });
    const line = await out.firstLine;
    expect(line).toMatch(/^tickpipe sim listening on http:\/\/127\.0\.0\.1:\d+$/);
    ac.abort();
    expect(await run).toBe(0);
  });
});
