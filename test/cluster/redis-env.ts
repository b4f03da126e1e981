/**
 * Real Redis for the cluster tests, never a mock: `REDIS_URL`, else the machine's own at
 * 127.0.0.1:6379, else a `redis-server` on PATH started on a free port. Without any of them the
 * tests are skipped with the reason in their name, unless `TICKPIPE_REQUIRE_REDIS=1` (set by
 * `.ci/run`), which turns the missing Redis into a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export async function ping(url: string, timeoutMs = 2_000): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A redis-server this test started (nothing persisted); `stop()` ends it. */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `redis-server` on `host:port` (optionally inside a network namespace via `prefix`). */
export async function startRedisServer(host: string, port?: number, prefix: readonly string[] = []): Promise<OwnRedis> {
  const p = port ?? (await freePort(host));
  const args = ['--bind', host, '--port', String(p), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
  const child = prefix.length > 0 ? spawn(prefix[0]!, [...prefix.slice(1), 'redis-server', ...args], { stdio: 'ignore' }) : spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://${host}:${p}`;
  for (let i = 0; i < 100 && !(await ping(url, 500)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await ping(url))) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start on ${url}`);
  }
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return {
    url,
    port: p,
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Where a Redis is, or why none is: decided once per test file. */
export async function findRedis(): Promise<{ url: string; stop?: () => Promise<void> } | { skip: string }> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    if (await ping(fromEnv)) return { url: fromEnv };
    return unavailable(`REDIS_URL=${fromEnv} does not answer`);
  }
  if (await ping('redis://127.0.0.1:6379')) return { url: 'redis://127.0.0.1:6379' };
  if (hasRedisServer()) {
    const own = await startRedisServer('127.0.0.1');
    return { url: own.url, stop: () => own.stop() };
  }
  return unavailable('no Redis: REDIS_URL unset, nothing at 127.0.0.1:6379, no redis-server on PATH');
}

function unavailable(reason: string): { skip: string } {
  if (process.env.TICKPIPE_REQUIRE_REDIS === '1') throw new Error(`TICKPIPE_REQUIRE_REDIS=1 but ${reason}`);
  console.warn(`SKIPPED cluster tests (they need a real Redis): ${reason}. Start one (redis-server --port 6379) or set REDIS_URL.`);
  return { skip: reason };
}
