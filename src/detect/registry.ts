/** The built-in detectors, by name. */
import { InputError } from '../errors.js';
import type { Detector } from './detector.js';
import { flush } from './flush.js';
import { openingRangeBreak } from './opening-range-break.js';
import { volumeSpike } from './volume-spike.js';
import { vwapBreak } from './vwap-break.js';

const FACTORIES: Readonly<Record<string, () => Detector>> = {
  opening_range_break: () => openingRangeBreak(),
  vwap_break: () => vwapBreak(),
  flush: () => flush(),
  volume_spike: () => volumeSpike(),
};

/** Names of the built-in detectors, in their canonical order. */
export const builtinDetectorNames: readonly string[] = Object.freeze(Object.keys(FACTORIES));

const defaults = new Map<string, Detector>();

/**
 * Default instances are shared: detectors are immutable, and building one costs milliseconds of
 * Expr construction that callers creating them per symbol should not pay again.
 */
function byDefault(name: string): Detector {
  let d = defaults.get(name);
  if (d === undefined) {
    d = Object.freeze(FACTORIES[name]!());
    defaults.set(name, d);
  }
  return d;
}

/** The four built-in detectors with their default settings, in {@link builtinDetectorNames} order. */
export function builtinDetectors(): Detector[] {
  return builtinDetectorNames.map(byDefault);
}

/**
 * Built-in detectors with default settings, in the order given. Throws {@link InputError} for an
 * unknown or repeated name, listing the known names.
 */
export function detectorsByName(names: readonly string[]): Detector[] {
  const seen = new Set<string>();
  return names.map((name) => {
    if (!Object.hasOwn(FACTORIES, name)) {
      throw new InputError(`unknown detector ${JSON.stringify(name)}; known detectors: ${builtinDetectorNames.join(', ')}`);
    }
    if (seen.has(name)) throw new InputError(`detector ${JSON.stringify(name)} is listed twice`);
    seen.add(name);
    return byDefault(name);
  });
}
