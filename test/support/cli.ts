/**
 * Spawns the built CLI (`node bin/tickpipe.js …`, which runs `dist/`) and collects stdout, stderr
 * and the exit status, with a hard timeout so a hanging command fails the test instead of the suite.
 * Also starts `tickpipe sim` as a separate process and reads its URL back.
 *
 * Build first (`npm run build`; `npm test` does).
 *
 * @example
 * ```ts
 * const r = await runCli(['run', '--universe', 'missing.txt', '--from', '2024-03-04', '--to', '2024-03-08']);
 * expect(r.code).toBe(2);
 * expect(r.stderr.trim().split('\n')).toHaveLength(1);
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** Repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The launcher of the built CLI. */
export const BIN = join(ROOT, 'bin', 'tickpipe.js');

export interface CliOptions {
  /**
   * Kill (SIGKILL) the process after this long; the result then has `timedOut: true`.
   * @default 120_000
   */
  readonly timeoutMs?: number;
  /** Working directory. @default the repository root */
  readonly cwd?: string;
  /**
   * Environment added to a copy of `process.env` minus POLYGON_API_KEY (so a developer's real key
   * can never leak into a test run). @default {}
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Run through `/bin/sh -c "umask U && exec node …"` to create files under that umask. @default undefined */
  readonly umask?: string;
}

export interface CliResult {
  /** Exit status; null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** A running CLI process whose output is being collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process ends (never rejects). */
  readonly done: Promise<CliResult>;
  /** Resolves once `re` matches stdout+stderr; rejects if the process ends first or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

function cleanEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!(extra && 'POLYGON_API_KEY' in extra)) delete env.POLYGON_API_KEY;
  // A TTY-less child would still get colour/progress decisions from these; keep output plain.
  delete env.FORCE_COLOR;
  return env;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts `node bin/tickpipe.js ...args` and collects its output (see {@link runCli} to await it). */
export function spawnCli(args: readonly string[], opts: CliOptions = {}): CliProcess {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`spawnCli: timeoutMs must be > 0, got ${String(timeoutMs)} (${typeof timeoutMs})`);
  if (opts.umask !== undefined && !/^[0-7]{3,4}$/.test(opts.umask)) {
    throw new TypeError(`spawnCli: umask must be octal like 027, got ${JSON.stringify(opts.umask)} (${typeof opts.umask})`);
  }
  const child =
    opts.umask === undefined
      ? spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `umask ${opts.umask} && exec ${shellQuote(process.execPath)} ${[BIN, ...args].map(shellQuote).join(' ')}`], {
          cwd: opts.cwd ?? ROOT,
          env: cleanEnv(opts.env),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    poke();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    poke();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  let ended = false;
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      poke();
      resolveDone({ code, signal, stdout: out, stderr: err, timedOut });
    });
  });
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(re, waitMs = 60_000) {
      return new Promise<void>((res, rej) => {
        const t = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`waitFor ${re}: not seen after ${waitMs} ms; stderr: ${err.slice(-500)}`));
        }, waitMs);
        const check = (): void => {
          if (re.test(out + err)) {
            clearTimeout(t);
            waiters.delete(check);
            res();
          } else if (ended) {
            clearTimeout(t);
            waiters.delete(check);
            rej(new Error(`waitFor ${re}: the process ended first; stderr: ${err.slice(-500)}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs `node bin/tickpipe.js ...args` to its end. */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, opts).done;
}

export interface SimProcess {
  readonly url: string;
  readonly proc: CliProcess;
  /** SIGTERM, then waits for the exit. */
  close(): Promise<void>;
}

/** Starts `tickpipe sim --port 0 ...args` as its own process and resolves with its URL. */
export async function startSimProcess(args: readonly string[] = [], opts: CliOptions = {}): Promise<SimProcess> {
  const proc = spawnCli(['sim', '--port', '0', ...args], { timeoutMs: 30 * 60_000, ...opts });
  await proc.waitFor(/listening on http:\/\/\S+/, 30_000);
  const url = /listening on (http:\/\/\S+)/.exec(proc.stdout())![1]!;
  return {
    url,
    proc,
    async close() {
      proc.child.kill('SIGTERM');
      await proc.done;
    },
  };
}

/** The lines of a captured stream, without the trailing newline. */
export function lines(text: string): string[] {
  const t = text.trim();
  return t === '' ? [] : t.split('\n');
}
