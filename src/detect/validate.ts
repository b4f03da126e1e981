/** Checks of a detector list and a symbol before any bar is read. */
import { InputError } from '../errors.js';
import type { Detector } from './detector.js';

/** Throws {@link InputError} for a detector list the framework cannot run unambiguously. */
export function validateDetectors(detectors: readonly Detector[]): void {
  if (!Array.isArray(detectors)) {
    throw new InputError(`detectors must be an array, got ${String(detectors)} (${typeof detectors})`);
  }
  const seen = new Set<string>();
  for (const d of detectors) {
    const name: unknown = d?.name;
    if (typeof name !== 'string' || name.length === 0) {
      throw new InputError(`a detector has no name: got ${String(name)} (${typeof name})`);
    }
    if (seen.has(name)) throw new InputError(`detector ${JSON.stringify(name)} is listed twice`);
    seen.add(name);
    if (typeof d.candidates !== 'function') throw new InputError(`detector ${name}: candidates must be a function`);
    const cd: unknown = d.cooldownMinutes;
    if (cd !== undefined && (typeof cd !== 'number' || !Number.isFinite(cd) || cd < 0)) {
      throw new InputError(`detector ${name}: cooldownMinutes must be a finite number >= 0, got ${String(cd)} (${typeof cd})`);
    }
    const once: unknown = d.oncePerDay;
    if (once !== undefined && typeof once !== 'boolean') {
      throw new InputError(`detector ${name}: oncePerDay must be a boolean, got ${String(once)} (${typeof once})`);
    }
    checkPlan(name, d.plan);
  }
}

function isExpr(x: unknown): boolean {
  // nodejs-polars exposes no Expr class to test with instanceof; an Expr has its native handle `_expr`.
  return typeof x === 'object' && x !== null && '_expr' in x;
}

function checkPlan(name: string, plan: unknown): void {
  if (plan === undefined) return;
  const p = plan as Record<string, unknown>;
  if (typeof plan !== 'object' || plan === null) throw new InputError(`detector ${name}: plan must be an object, got ${String(plan)} (${typeof plan})`);
  if (!isExpr(p.candidate)) throw new InputError(`detector ${name}: plan.candidate must be a Polars expression`);
  if (!isExpr(p.measure)) throw new InputError(`detector ${name}: plan.measure must be a Polars expression`);
  const cols = p.columns;
  if (cols === undefined) return;
  if (!Array.isArray(cols) || !cols.every((stage) => Array.isArray(stage) && stage.every(isExpr))) {
    throw new InputError(`detector ${name}: plan.columns must be an array of arrays of Polars expressions`);
  }
}

/** Throws {@link InputError} unless `symbol` is a non-empty string. */
export function validateSymbol(symbol: unknown): asserts symbol is string {
  if (typeof symbol !== 'string' || symbol.length === 0) {
    throw new InputError(`symbol must be a non-empty string, got ${String(symbol)} (${typeof symbol})`);
  }
}
