/**
 * Issue 15 point 6 (owned by issue 16): a server answering `429 Retry-After: 3600` must not stop the
 * run for an hour. The real CLI runs through a proxy in front of the simulator that, once a few
 * windows are committed, refuses everything with Retry-After 3600: the pause is capped
 * (--max-server-pause), the heartbeat says "paused by the server until …" with what the server
 * asked for, and the first SIGTERM ends the run without waiting the pause out; the windows that
 * were only waiting for a token are neither committed nor failed, and a resume completes them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeats, journaled } from './run-files.js';
import { runCli, startCli, startSimProcess, waitFor } from './spawn.js';


describe('Retry-After: 3600 (issue 15 point 6)', () => {
  let sim: { url: string; stop(): Promise<void> };
  let proxy: Server;
  let proxyUrl: string;
  let blocked = false;
  let refused = 0;
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', '3']);
    const upstream = new URL(sim.url);
    proxy = createServer((req, res) => {
      if (blocked && req.url?.startsWith('/v3/') && !req.url.startsWith('/v3/reference')) {
        refused++;
        res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '3600' });
        res.end('{"status":"ERROR","request_id":"x","error":"You\'ve exceeded the maximum requests per minute"}');
        return;
      }
      const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-server-pause-'));
    await writeFile(join(dir, 'u.txt'), 'ALFA\nBRVO\nCHRL\n');
  });
  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('caps the pause, shows it in the heartbeat, and the first SIGTERM does not wait it out', async () => {
    const out = join(dir, 'run');
    const args = ['run', '--universe', join(dir, 'u.txt'), '--from', '2024-03-11', '--to', '2024-03-15', '--out', out, '--base-url', proxyUrl, '--api-key', 'k', '--rate', '20/s', '--no-progress'];
    // A cap of 10 minutes: far above the time this test waits, so only the stop can end the pause.
    const r = startCli([...args, '--max-server-pause', '600s']);
    await waitFor(() => journaled(out).length >= 2, 120_000, 'two windows');
    blocked = true;
    const pauseBeat = () => heartbeats(out).find((h) => h.stage === 'ingest' && typeof h.serverPausedUntil === 'string');
    await waitFor(() => pauseBeat() !== undefined, 60_000, 'a heartbeat showing the server pause');
    const beat = pauseBeat()!;
    expect(beat.serverAskedSec).toBe(3600);
    const until = Date.parse(String(beat.serverPausedUntil));
    expect(until).toBeGreaterThan(Date.now());
    expect(until).toBeLessThanOrEqual(Date.now() + 600_000 + 1000); // capped at 600 s, not 3600 s
    expect(Number(beat.rateLimited)).toBeGreaterThanOrEqual(1);
    const committedBefore = journaled(out).length;
    r.child.kill('SIGTERM');
    const f = await r.done; // vitest's timeout below is far shorter than the 600 s pause
    expect(f.code, f.stderr + f.stdout).toBe(143);
    expect(journaled(out).length).toBe(committedBefore);
    // Dropped windows are not failures: nothing in the failure journal.
    const failed = join(out, 'state', 'ingest', 'part-0.failed.jsonl');
    expect(existsSync(failed) ? readFileSync(failed, 'utf8').trim() : '').toBe('');
    expect(refused).toBeGreaterThanOrEqual(1);

    blocked = false;
    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const ids = journaled(out);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(committedBefore);
  }, 240_000);

  it('--max-server-pause rejects a bad duration naming it', async () => {
    const r = await runCli(['run', '--out', join(dir, 'bad'), '--base-url', proxyUrl, '--api-key', 'k', '--universe', join(dir, 'u.txt'), '--from', '2024-03-11', '--to', '2024-03-11', '--max-server-pause', '0s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-server-pause.*"0s"/);
  }, 60_000);
});
