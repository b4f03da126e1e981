/**
 * Where `run` takes the API key from. `--api-key KEY` puts the key on the command line, where every
 * user of the machine can read it (`ps`, /proc/PID/cmdline, shell history): `POLYGON_API_KEY` or
 * `--api-key-file FILE` keep it out of sight.
 */
import { readFileSync } from 'node:fs';
import { InputError, UsageError } from '../errors.js';

export interface ApiKeyFlags {
  readonly 'api-key'?: string | undefined;
  readonly 'api-key-file'?: string | undefined;
}

/** The key from the file's first line (surrounding whitespace trimmed). Errors name the file, never the content. */
export function readApiKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code ?? 'error';
    throw new InputError(`--api-key-file: cannot read ${path} (${code})`);
  }
  const key = (text.split(/\r?\n/, 1)[0] ?? '').trim();
  if (key === '') throw new InputError(`--api-key-file: ${path} is empty (expected the key on its first line)`);
  return key;
}

/** `--api-key`, else `--api-key-file`, else `POLYGON_API_KEY`; undefined when none is given. */
export function resolveApiKey(values: ApiKeyFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (values['api-key'] !== undefined && values['api-key-file'] !== undefined) {
    throw new UsageError('--api-key and --api-key-file: give one of them, not both');
  }
  if (values['api-key'] !== undefined) return values['api-key'];
  if (values['api-key-file'] !== undefined) return readApiKeyFile(values['api-key-file']);
  return env.POLYGON_API_KEY || undefined;
}
