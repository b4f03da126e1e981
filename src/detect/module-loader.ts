/**
 * Loads user detectors from an ESM module (`tickpipe run --detector-module ./my-detectors.js`) and
 * combines them with the built-ins for `--detectors a,b`.
 *
 * A detector module is a plain ES module whose default export, or named export `detectors`, is one
 * {@link Detector} or an array of them:
 *
 * @example
 * ```js
 * // my-detectors.mjs
 * import pl from 'nodejs-polars';
 * import { candidateColumns } from 'tickpipe';
 * const gain = pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100);
 * export default {
 *   name: 'jump', description: 'close >= 3% above the previous close', measure: 'gain_pct',
 *   cooldownMinutes: 30, settings: { minGainPct: 3 },
 *   // The gain is computed before the filter: after it, shift(1) would see the previous candidate.
 *   candidates: (bars) => bars.withColumns(gain.alias('gain')).filter(pl.col('gain').gtEq(3)).select(...candidateColumns(pl.col('gain'))),
 * };
 * // then: tickpipe run --detector-module ./my-detectors.mjs --detectors jump,flush
 * ```
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../errors.js';
import { EVENT_TYPE_PATTERN } from '../streams/manifest.js';
import { validateDetectors } from './detect-events.js';
import type { Detector } from './detector.js';
import { builtinDetectorNames, builtinDetectors, detectorsByName } from './registry.js';

/** What {@link loadDetectorModule} found. */
export interface DetectorModule {
  /** Absolute path of the module file. */
  readonly path: string;
  /** sha256 (hex) of the module file's bytes: recorded in run.json so a resume with another module is refused. */
  readonly sha256: string;
  /** The module's detectors, validated, in export order. */
  readonly detectors: readonly Detector[];
}

/** Options of {@link loadDetectorModule}. */
export interface LoadDetectorModuleOptions {
  /** Folder a relative `file` is resolved against. @default process.cwd() */
  readonly cwd?: string;
  /** How the module is named in errors (e.g. the CLI flag). @default 'detector module' */
  readonly label?: string;
}

function show(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'function' ? '[function]' : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return `${s.length > 80 ? `${s.slice(0, 77)}...` : s} (${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v})`;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

/**
 * Imports `file` (resolved to an absolute path, imported by file URL), takes its default export or
 * its named export `detectors` (one Detector or an array), and validates every detector: a name that
 * can be an `event_type` (1-64 of letters, digits, `_ . -`), unique, not a built-in's name;
 * `candidates` a function; `description`/`measure` strings; `cooldownMinutes`/`oncePerDay`/`settings`
 * well-typed.
 *
 * @throws InputError naming the path and the reason when the file is missing, fails to import
 *   (syntax error, throwing top level), exports no detectors, or exports an invalid one; naming the
 *   clash when a detector has a built-in's name.
 *
 * @example
 * ```ts
 * const mod = await loadDetectorModule('./my-detectors.mjs');
 * const detectors = selectDetectors(['flush', 'jump'], mod);
 * ```
 */
export async function loadDetectorModule(file: string, opts: LoadDetectorModuleOptions = {}): Promise<DetectorModule> {
  const label = opts.label ?? 'detector module';
  if (typeof file !== 'string' || file.length === 0) {
    throw new InputError(`${label}: expected a path to an ES module, got ${show(file)}`);
  }
  if (opts.cwd !== undefined && typeof opts.cwd !== 'string') {
    throw new InputError(`${label}: cwd must be a string, got ${show(opts.cwd)}`);
  }
  const path = resolve(opts.cwd ?? process.cwd(), file);
  const where = `${label} ${path}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    throw new InputError(`${where}: cannot read it: ${code === 'ENOENT' ? 'no such file' : firstLine(err)}`, { cause: err });
  }
  let ns: Record<string, unknown>;
  try {
    // The file's hash in the URL: a module changed on disk within one process is imported afresh.
    const url = pathToFileURL(path);
    url.searchParams.set('sha256', createHash('sha256').update(bytes).digest('hex').slice(0, 16));
    ns = (await import(url.href)) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`${where}: failed to import: ${firstLine(err)}`, { cause: err });
  }
  const hasDefault = ns.default !== undefined;
  const hasNamed = ns.detectors !== undefined;
  if (hasDefault && hasNamed && ns.default !== ns.detectors) {
    throw new InputError(`${where}: exports both a default export and \`detectors\`; export one of them`);
  }
  const exported = hasDefault ? ns.default : ns.detectors;
  if (exported === undefined) {
    throw new InputError(`${where}: exports no detectors: expected a default export or a named export \`detectors\` (a Detector or an array of them)`);
  }
  const list = (Array.isArray(exported) ? exported : [exported]) as unknown[];
  if (list.length === 0) throw new InputError(`${where}: exports an empty list of detectors`);
  list.forEach((d, i) => checkShape(d, `${where}: detector #${i + 1}`));
  const detectors = list as Detector[];
  try {
    validateDetectors(detectors);
  } catch (err) {
    throw new InputError(`${where}: ${firstLine(err)}`, { cause: err });
  }
  for (const d of detectors) {
    if (builtinDetectorNames.includes(d.name)) {
      throw new InputError(`${where}: detector ${JSON.stringify(d.name)} clashes with the built-in detector of that name; rename it`);
    }
  }
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), detectors: Object.freeze([...detectors]) };
}

function checkShape(d: unknown, where: string): void {
  if (d === null || typeof d !== 'object') throw new InputError(`${where}: expected a Detector object, got ${show(d)}`);
  const o = d as Record<string, unknown>;
  if (typeof o.name !== 'string' || !EVENT_TYPE_PATTERN.test(o.name) || o.name.includes('..')) {
    throw new InputError(`${where}: name must be 1-64 of letters, digits, '_', '.', '-' (it becomes the event_type), got ${show(o.name)}`);
  }
  const named = `${where} (${o.name})`;
  if (typeof o.candidates !== 'function') throw new InputError(`${named}: candidates must be a function, got ${show(o.candidates)}`);
  if (typeof o.description !== 'string') throw new InputError(`${named}: description must be a string, got ${show(o.description)}`);
  if (typeof o.measure !== 'string' || o.measure.length === 0) throw new InputError(`${named}: measure must be a non-empty string, got ${show(o.measure)}`);
  const s = o.settings;
  if (s !== undefined) {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new InputError(`${named}: settings must be an object, got ${show(s)}`);
    for (const [k, v] of Object.entries(s)) {
      const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
      if (!ok) throw new InputError(`${named}: settings.${k} must be a finite number, a boolean or a string, got ${show(v)}`);
    }
  }
}

/**
 * The detectors of a run: `names` picked from the built-ins and the module's detectors (in the
 * order given), or, without `names`, every built-in followed by every module detector.
 *
 * @throws InputError for an unknown or repeated name, listing the known names.
 *
 * @example
 * ```ts
 * selectDetectors(undefined, undefined);          // the four built-ins
 * selectDetectors(['gap_up'], await loadDetectorModule('./gap-up.mjs')); // only the module's gap_up
 * ```
 */
export function selectDetectors(names: readonly string[] | undefined, mod: DetectorModule | undefined): Detector[] {
  const extra = mod?.detectors ?? [];
  if (names === undefined) return [...builtinDetectors(), ...extra];
  if (!Array.isArray(names)) throw new InputError(`detector names must be an array, got ${show(names)}`);
  const byName = new Map(extra.map((d) => [d.name, d]));
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw new InputError(`detector ${JSON.stringify(name)} is listed twice`);
    seen.add(name);
    const own = byName.get(name);
    if (own !== undefined) return own;
    if (builtinDetectorNames.includes(name)) return detectorsByName([name])[0]!;
    const known = [...builtinDetectorNames, ...byName.keys()].join(', ');
    throw new InputError(`unknown detector ${JSON.stringify(name)}; known detectors: ${known}${mod ? '' : ' (pass --detector-module FILE for your own)'}`);
  });
}

/**
 * The run.json `detectors` entry: built-ins as `name → settings` (unchanged format), module
 * detectors as `name → { module: sha256 of the module file, settings }`, so resuming with another
 * (or an edited) module is refused as a different run.
 */
export function detectorSpec(detectors: readonly Detector[], mod: DetectorModule | undefined): Record<string, Readonly<Record<string, unknown>>> {
  const own = new Set(mod?.detectors ?? []);
  return Object.fromEntries(
    detectors.map((d) => [d.name, own.has(d) ? { module: mod!.sha256, settings: d.settings ?? {} } : (d.settings ?? {})]),
  );
}
