/**
 * Run identity: `run.json` in the output folder records what determines the output, so resuming
 * with different settings is refused instead of silently mixing two runs in one folder.
 *
 * Identity fields: `version`, `universe`, `from`, `to`, `detectors`, `window`, `quotesHz`,
 * `source`. Worker count, concurrency and rate are not part of the spec at all (they may change
 * freely between restarts), nor is anything taken from the wall clock. The data source is recorded
 * as a base URL reduced to origin + path (credentials and query strings, where an API key could
 * hide, are dropped) or as the simulator seed; the API key is never accepted or stored.
 *
 * A later stage may *extend* the spec: detect writes `universe`/`from`/`to`/`detectors`, ingest
 * later adds `window`/`quotesHz`. Fields present on both sides must agree; fields only in the new
 * spec are added; fields only in run.json are kept.
 *
 * @example
 * ```ts
 * import { ensureRunSpec, hashUniverse } from 'tickpipe/sinks';
 * await ensureRunSpec('/data/out', {
 *   version: 1,
 *   universe: { hash: hashUniverse(symbols), count: symbols.length },
 *   from: '2023-01-03', to: '2023-12-29',
 *   detectors: { vwapBreak: { minVolume: 1000 } },
 *   source: { baseUrl: 'https://api.polygon.io' },
 * }, { stage: 'detect' });
 * ```
 */
import { createHash } from 'node:crypto';
import { InputError, RunMismatchError } from '../errors.js';
import { isNotFound, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { toDiskError } from '../fs/paths.js';
import { publishBytes } from '../fs/publish-atomically.js';
import { runSpecPath } from './layout.js';

/** A JSON value (what detector settings may contain). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** Where the data comes from: a REST base URL (never the key) or the embedded simulator's seed. */
export type RunSource = { readonly baseUrl: string } | { readonly sim: { readonly seed: number } };

/** What determines a run's output. */
export interface RunSpec {
  readonly version: 1;
  /** Hash ({@link hashUniverse}) and size of the sorted, de-duplicated universe. */
  readonly universe?: { readonly hash: string; readonly count: number };
  /** First trading day, YYYY-MM-DD. */
  readonly from?: string;
  /** Last trading day, YYYY-MM-DD. */
  readonly to?: string;
  /** Detector settings, as the detect stage defines them. */
  readonly detectors?: { readonly [name: string]: JsonValue };
  /** Event window around each event. */
  readonly window?: { readonly beforeMs: number; readonly afterMs: number };
  /** Quote downsampling rate (0 = all quotes). */
  readonly quotesHz?: number;
  readonly source: RunSource;
}

/** The identity fields, in the order they are compared and reported. */
export const RUN_SPEC_IDENTITY_FIELDS = ['version', 'universe', 'from', 'to', 'detectors', 'window', 'quotesHz', 'source'] as const;

/** Stored form: the spec plus informational, non-identity fields. */
export interface StoredRunSpec extends RunSpec {
  /** Stages that have used this folder (informational, not identity). */
  readonly stages?: readonly string[];
}

/** Options of {@link ensureRunSpec}. */
export interface EnsureRunSpecOptions {
  /** Stage name recorded in `stages` and used in messages, e.g. 'detect'. @default undefined */
  readonly stage?: string;
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
}

/** What {@link ensureRunSpec} did. */
export interface EnsureRunSpecResult {
  /** The spec now in run.json (merged). */
  readonly spec: StoredRunSpec;
  /** True when run.json did not exist and was written. */
  readonly created: boolean;
  /** Identity fields this call added to an existing run.json. */
  readonly extended: readonly string[];
}

/**
 * Canonical JSON: object keys sorted (recursively), no whitespace, `undefined` members dropped.
 * Equal values always give equal strings, so it is safe to hash and compare.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/** sha256 (hex) of the canonical JSON of the identity fields of `spec`. */
export function runSpecHash(spec: RunSpec): string {
  return createHash('sha256').update(canonicalJson(identityOf(spec))).digest('hex');
}

/**
 * sha256 (hex) of a universe: the symbols sorted (by UTF-16 code unit, i.e. byte order for ASCII)
 * and de-duplicated, joined with '\n' (no trailing newline).
 *
 * @example
 * ```ts
 * hashUniverse(['MSFT', 'AAPL', 'AAPL']) === hashUniverse(['AAPL', 'MSFT']); // true
 * ```
 */
export function hashUniverse(symbols: readonly string[]): string {
  const uniq = [...new Set(symbols)].sort();
  return createHash('sha256').update(uniq.join('\n'), 'utf8').digest('hex');
}

/** Reduces a base URL to origin + path (no credentials, query or fragment, no trailing slash). */
export function sanitizeBaseUrl(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new InputError('run spec: source.baseUrl is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`run spec: source.baseUrl must be http(s), got ${u.protocol}`);
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${u.host.toLowerCase()}${path}`;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Validates `spec` and returns a normalised copy holding only the known fields (so a careless
 * caller's extra `apiKey` member can never reach the disk).
 */
export function normalizeRunSpec(spec: RunSpec): RunSpec {
  const bad = (msg: string): never => {
    throw new InputError(`run spec: ${msg}`);
  };
  if (spec === null || typeof spec !== 'object') bad('must be an object');
  if (spec.version !== 1) bad(`unsupported version ${String(spec.version)}`);
  const out: { -readonly [K in keyof RunSpec]: RunSpec[K] } = { version: 1, source: normalizeSource(spec.source) };
  if (spec.universe !== undefined) {
    const { hash, count } = spec.universe;
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) bad('universe.hash must be a sha256 hex string');
    if (!Number.isInteger(count) || count < 0) bad('universe.count must be an integer >= 0');
    out.universe = { hash, count };
  }
  for (const k of ['from', 'to'] as const) {
    const d = spec[k];
    if (d === undefined) continue;
    if (typeof d !== 'string' || !DATE_RE.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`))) bad(`${k} must be YYYY-MM-DD, got ${String(d)}`);
    out[k] = d;
  }
  if (out.from !== undefined && out.to !== undefined && out.from > out.to) bad(`from ${out.from} is after to ${out.to}`);
  if (spec.detectors !== undefined) {
    if (spec.detectors === null || typeof spec.detectors !== 'object' || Array.isArray(spec.detectors)) bad('detectors must be an object');
    out.detectors = JSON.parse(canonicalJson(spec.detectors)) as RunSpec['detectors'];
  }
  if (spec.window !== undefined) {
    const { beforeMs, afterMs } = spec.window;
    if (!Number.isFinite(beforeMs) || beforeMs < 0 || !Number.isFinite(afterMs) || afterMs < 0) bad('window.beforeMs/afterMs must be numbers >= 0');
    out.window = { beforeMs, afterMs };
  }
  if (spec.quotesHz !== undefined) {
    if (!Number.isFinite(spec.quotesHz) || spec.quotesHz < 0) bad('quotesHz must be a number >= 0');
    out.quotesHz = spec.quotesHz;
  }
  return out;
}

function normalizeSource(source: RunSource): RunSource {
  if (source && typeof source === 'object' && 'baseUrl' in source && typeof source.baseUrl === 'string') {
    return { baseUrl: sanitizeBaseUrl(source.baseUrl) };
  }
  if (source && typeof source === 'object' && 'sim' in source && source.sim && Number.isFinite(source.sim.seed)) {
    return { sim: { seed: source.sim.seed } };
  }
  throw new InputError('run spec: source must be { baseUrl } or { sim: { seed } }');
}

function identityOf(spec: RunSpec): Partial<RunSpec> {
  const out: Record<string, unknown> = {};
  for (const k of RUN_SPEC_IDENTITY_FIELDS) if (spec[k] !== undefined) out[k] = spec[k];
  return out as Partial<RunSpec>;
}

/** Dotted paths where `a` and `b` differ, with both values ("detectors.flush.minDrop: 0.05 vs 0.1"). */
function diffPaths(a: unknown, b: unknown, path: string, out: string[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) diffPaths(a[k], b[k], `${path}.${k}`, out);
    return;
  }
  if (canonicalJson(a) !== canonicalJson(b)) {
    const show = (v: unknown): string => (v === undefined ? '(absent)' : canonicalJson(v));
    out.push(`${path}: ${show(a)} in run.json vs ${show(b)} now`);
  }
}

/** Reads `dir/run.json`, or undefined if absent. */
export async function readRunSpec(dir: string, opts?: { readonly fs?: FsLayer }): Promise<StoredRunSpec | undefined> {
  const fs = opts?.fs ?? nodeFs;
  const path = runSpecPath(dir);
  let buf: Buffer;
  try {
    buf = await fs.readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw toDiskError(err, 'reading', path);
  }
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new InputError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (v === null || typeof v !== 'object' || (v as RunSpec).version !== 1) {
    throw new InputError(`${path}: not a tickpipe run spec (version 1)`);
  }
  return v as StoredRunSpec;
}

/**
 * Makes sure `dir/run.json` describes `spec`: writes it (atomically) when absent, extends it with
 * fields it lacks, and refuses a differing spec.
 *
 * @throws RunMismatchError with one line naming every differing field (old vs new).
 */
export async function ensureRunSpec(dir: string, spec: RunSpec, opts?: EnsureRunSpecOptions): Promise<EnsureRunSpecResult> {
  const fs = opts?.fs ?? nodeFs;
  const stage = opts?.stage;
  if (stage !== undefined && (typeof stage !== 'string' || !/^[a-z][a-z0-9-]*$/.test(stage))) {
    throw new InputError(`ensureRunSpec: invalid stage ${JSON.stringify(stage)}`);
  }
  const want = normalizeRunSpec(spec);
  const path = runSpecPath(dir);
  const existing = await readRunSpec(dir, { fs });
  const write = async (s: StoredRunSpec): Promise<void> => {
    await publishBytes(path, `${JSON.stringify(sortKeys(s), null, 2)}\n`, { fs });
  };
  if (!existing) {
    const stored: StoredRunSpec = { ...want, ...(stage ? { stages: [stage] } : {}) };
    await write(stored);
    return { spec: stored, created: true, extended: [] };
  }
  const diffs: string[] = [];
  const extended: string[] = [];
  const merged: Record<string, unknown> = { ...identityOf(existing) };
  for (const k of RUN_SPEC_IDENTITY_FIELDS) {
    const now = want[k];
    const old = existing[k];
    if (now === undefined) continue;
    if (old === undefined) {
      extended.push(k);
      merged[k] = now;
      continue;
    }
    diffPaths(old, now, k, diffs);
  }
  if (diffs.length > 0) {
    throw new RunMismatchError(
      `${path} belongs to a different run: ${diffs.join('; ')}. Resume with the original settings or use another --out folder`,
    );
  }
  const stages = [...(existing.stages ?? [])];
  if (stage && !stages.includes(stage)) stages.push(stage);
  const stored = { ...merged, ...(stages.length ? { stages } : {}) } as StoredRunSpec;
  if (extended.length > 0 || stages.length !== (existing.stages?.length ?? 0)) await write(stored);
  return { spec: stored, created: false, extended };
}
