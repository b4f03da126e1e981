import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI launcher (tests run after `npm run build`, as `npm test` does). */
export const BIN = fileURLToPath(new URL('../../bin/tickpipe.js', import.meta.url));

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running CLI process with its output collected. */
export interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<Finished>;
  stdout(): string;
  stderr(): string;
}

export function startCli(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, POLYGON_API_KEY: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return { child, done, stdout: () => out, stderr: () => err };
}

export function runCli(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Finished> {
  return startCli(args, opts).done;
}

/** Starts `tickpipe sim` in its own process and resolves with its URL once it listens. */
export async function startSimProcess(args: readonly string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const r = startCli(['sim', '--port', '0', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(r.stdout());
      if (m) resolve(m[1]!);
    };
    r.child.stdout!.on('data', onData);
    void r.done.then((f) => reject(new Error(`sim exited early (${f.code}): ${f.stderr}`)));
  });
  return {
    url,
    async stop() {
      r.child.kill('SIGTERM');
      await r.done;
    },
  };
}

/** Resolves once `predicate()` holds, checking every 50 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!predicate()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
