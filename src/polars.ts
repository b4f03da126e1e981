/**
 * nodejs-polars, loaded on first use. Importing it maps its native addon and builds its JS
 * wrappers: ~27 MB of RSS before any query (measured in issue 17), which a `run` over a CSV
 * manifest, whose windows are encoded in worker threads, never needs on its main thread. Modules
 * that only sometimes query Polars (a Parquet manifest, the summary's shard counts) call this at the
 * point of use and keep the types with `import type pl from 'nodejs-polars'`.
 */
import { createRequire } from 'node:module';
import type pl from 'nodejs-polars';

export type Polars = typeof pl;

/** The nodejs-polars namespace (the module's default export); loaded once, then cached by Node. */
export async function polars(): Promise<Polars> {
  return (await import('nodejs-polars')).default;
}

/**
 * The same namespace, loaded synchronously (nodejs-polars is CommonJS), for code that must stay
 * synchronous; prefer {@link polars}.
 */
export function polarsSync(): Polars {
  return createRequire(import.meta.url)('nodejs-polars') as Polars;
}
