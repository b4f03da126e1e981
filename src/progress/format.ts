/**
 * Text pieces every progress view uses (the run view, `tail`, `status`), so the same figure reads
 * the same everywhere.
 */

/** `[#####.....]` of `width` cells; an unknown total draws an empty bar. */
export function bar(done: number, total: number | null, width = 20): string {
  if (total === null) return `[${'.'.repeat(width)}]`;
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

/** `1h02m`, `3m05s`, `12s`; `?` for an unknown or negative duration. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `12/40` or `12/counting…` while the total is not known yet. */
export function doneOfTotal(done: number, total: number | null): string {
  return `${thousands(done)}/${total === null ? 'counting…' : thousands(total)}`;
}

/**
 * `572,850`: what `toLocaleString('en-US')` writes for a whole number, without it (its first call
 * loads ICU's locale data: ~130 ms of a CLI start).
 */
export function thousands(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) >= 1e21) return n.toLocaleString('en-US');
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `3.4` or `-` for an unknown rate. */
export function formatRate(perSec: number | null): string {
  return perSec === null ? '-' : perSec.toFixed(1);
}

/** The ETA cell: `PAUSED`, a duration, or `?`. */
export function formatEta(etaSec: number | null, paused: boolean): string {
  if (paused) return 'paused';
  return etaSec === null ? '?' : formatDuration(etaSec * 1000);
}

/** `PAUSED since 14:02:11 (3m05s)` (local time of day), for a pause that began at `sinceMs`. */
export function pausedText(sinceMs: number | null, now: number): string {
  if (sinceMs === null) return 'PAUSED';
  const d = new Date(sinceMs);
  const hhmmss = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `PAUSED since ${hhmmss} (${formatDuration(Math.max(0, now - sinceMs))})`;
}
