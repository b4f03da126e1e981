import { AuthError, TickpipeError } from '../errors.js';
import { scrubSecret } from '../log.js';
import { readApiKeyFile } from './api-key.js';
import type { CommandIo } from './command.js';
import type { CommandEntry } from './commands.js';

async function commands(): Promise<readonly CommandEntry[]> {
  const { commandIndex } = await import('./commands.js');
  return commandIndex();
}

function usage(all: ReadonlyArray<{ readonly name: string; readonly summary: string }>): string {
  const width = Math.max(...all.map((c) => c.name.length));
  return [
    'tickpipe — exactly-once market-data pipelines for the Polygon.io (Massive) REST API',
    '',
    'Usage: tickpipe <command> [options]      (tickpipe <command> --help for its options)',
    '',
    'Commands:',
    ...all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit codes: 0 done, 1 finished with permanent failures, 2 bad usage or input,',
    '            3 authentication refused, 130/143 stopped by SIGINT/SIGTERM after a graceful drain.',
    'Environment: POLYGON_API_KEY (or --api-key-file; --api-key shows the key to every user in `ps`)',
    '             with --base-url selects the real API;',
    '             with neither, `run` uses the embedded simulator.',
  ].join('\n');
}

/** Maps an error to the documented exit status. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof AuthError) return 3;
  if (err instanceof TickpipeError) {
    switch (err.code) {
      case 'E_USAGE':
      case 'E_INPUT':
      case 'E_LOCKED':
      case 'E_RUN_MISMATCH':
        return 2;
      default:
        return 1;
    }
  }
  return 1;
}

/** The CLI entry point: returns the exit status instead of exiting, so tests can call it. */
export async function main(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const all = await commands();
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage(all) + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = all.find((c) => c.name === name);
  if (!entry) {
    const { closestFlag } = await import('../args.js');
    const guess = closestFlag(name, all.map((c) => c.name));
    io.stderr.write(`tickpipe: unknown command ${JSON.stringify(name)}${guess ? `; did you mean ${guess}?` : ''} (try tickpipe --help)\n`);
    return 2;
  }
  try {
    const cmd = await entry.load();
    return await cmd.run(rest, io);
  } catch (err) {
    // --api-key wins over the environment in `run`, so either may be the key in use: scrub both.
    const msg = err instanceof Error ? err.message : String(err);
    const scrubbed = scrubSecret(scrubSecret(msg, apiKeyFromArgv(rest)), io.env.POLYGON_API_KEY);
    io.stderr.write(`tickpipe ${name}: ${scrubbed}\n`);
    return exitCodeFor(err);
  }
}

function apiKeyFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--api-key') return argv[i + 1];
    if (a.startsWith('--api-key=')) return a.slice('--api-key='.length);
    const file = a === '--api-key-file' ? argv[i + 1] : a.startsWith('--api-key-file=') ? a.slice('--api-key-file='.length) : undefined;
    if (file !== undefined) {
      try {
        return readApiKeyFile(file);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
