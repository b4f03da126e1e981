/**
 * Which detectors the JS kernel (kernel.ts) may run instead of their Polars plan: exactly the
 * objects the built-in factories returned, still carrying the `candidates` and `plan` they were
 * built with. Anything else (user detectors, a spread copy, a detector whose functions were
 * replaced) keeps the Polars path, since the kernel only knows the built-ins' semantics.
 */
import type { Detector, SharedPlanPart } from './detector.js';

/** The settings the kernel needs for one built-in detector (validated by its factory). */
export type KernelSpec =
  | { readonly kind: 'vwap_break' }
  | { readonly kind: 'flush'; readonly dropPct: number; readonly lookbackMinutes: number }
  | {
      readonly kind: 'volume_spike';
      readonly multiple: number;
      readonly windowBars: number;
      readonly minBars: number;
      readonly minDollarVolume: number;
      readonly acrossDays: boolean;
    }
  | { readonly kind: 'opening_range_break'; readonly rangeMinutes: number };

interface Registered {
  readonly spec: KernelSpec;
  readonly candidates: Detector['candidates'];
  readonly plan: SharedPlanPart | undefined;
}

// Keyed by object identity: a WeakMap entry cannot be forged or copied by spreading the object.
const registered = new WeakMap<Detector, Registered>();

/** Marks `detector` (as a built-in factory returns it) as runnable by the kernel with `spec`. */
export function registerKernelSpec<D extends Detector>(detector: D, spec: KernelSpec): D {
  registered.set(detector, { spec, candidates: detector.candidates, plan: detector.plan });
  return detector;
}

/**
 * The kernel settings of a built-in detector, or undefined when it must run through Polars:
 * not made by a built-in factory, or its `candidates`/`plan` replaced since (the kernel would no
 * longer compute what the Polars path computes).
 */
export function kernelSpecOf(detector: Detector): KernelSpec | undefined {
  const r = registered.get(detector);
  if (r === undefined || detector.candidates !== r.candidates || detector.plan !== r.plan) return undefined;
  return r.spec;
}
