/**
 * What every process of a cluster run committed, for the summary `run --cluster` prints at its
 * end: each slot's own journals (`worker-K.jsonl`, `part-K.jsonl`, `part-K.failed.jsonl`) say what
 * it committed and what failed; its heartbeat file says which host it ran on and how many requests
 * it sent. The journals are the truth; the heartbeats only name hosts and count requests.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { listJournals } from '../ops/run-folder.js';
import { loadJournal, scanWindowJournal } from '../sinks/index.js';
import { heartbeatFiles } from '../ops/hosts-view.js';
import { SLOT_BASE } from './layout.js';

/** One slot (one worker process) of a cluster run. */
export interface SlotTotals {
  readonly slot: number;
  /** From the slot's heartbeat lines; undefined if it never wrote one. */
  readonly host: string | undefined;
  readonly pid: number | undefined;
  /** Symbols in its stage-1 journal. */
  readonly symbols: number;
  /** Windows in its stage-2 journal, and their rows. */
  readonly windows: number;
  readonly trades: number;
  readonly quotes: number;
  /** Windows in its failure journal that no process committed. */
  readonly failed: number;
  /** Its last heartbeat: requests sent, 2xx, 429s, and when (ms). */
  readonly requests: number;
  readonly ok: number;
  readonly rateLimited: number;
  readonly lastBeatMs: number | undefined;
  /** Its last heartbeat says it ended (not killed). */
  readonly ended: boolean;
}

interface SlotBeat {
  host?: string;
  pid?: number;
  requests: number;
  ok: number;
  rateLimited: number;
  lastBeatMs?: number;
  ended: boolean;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The last line of each slot's heartbeat file (a torn last line is skipped). */
async function lastBeats(outDir: string): Promise<Map<number, SlotBeat>> {
  const beats = new Map<number, SlotBeat>();
  for (const file of await heartbeatFiles(outDir)) {
    const m = /^heartbeat\.slot-(\d+)\.ndjson$/.exec(basename(file));
    if (!m) continue;
    const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      let h: Record<string, unknown>;
      try {
        h = JSON.parse(lines[i]!) as Record<string, unknown>;
      } catch {
        continue;
      }
      const t = typeof h.time === 'string' ? Date.parse(h.time) : NaN;
      beats.set(Number(m[1]), {
        ...(typeof h.host === 'string' ? { host: h.host } : {}),
        ...(typeof h.pid === 'number' ? { pid: h.pid } : {}),
        requests: num(h.requests),
        ok: num(h.ok),
        rateLimited: num(h.rateLimited),
        ...(Number.isFinite(t) ? { lastBeatMs: t } : {}),
        ended: h.ended === true,
      });
      break;
    }
  }
  return beats;
}

/**
 * Waits (at most `maxMs`) until every other slot that wrote a heartbeat since `sinceMs` has written
 * its last one: the run is done, and each process writes its final counts as it exits, within a
 * second or so. A killed process never does; the wait then ends at `maxMs`.
 */
export async function waitForFinalBeats(outDir: string, sinceMs: number, ownSlot: number, maxMs = 5_000): Promise<void> {
  const until = Date.now() + maxMs;
  for (;;) {
    const beats = await lastBeats(outDir);
    const running = [...beats].filter(([slot, b]) => slot !== ownSlot && !b.ended && b.lastBeatMs !== undefined && b.lastBeatMs >= sinceMs);
    if (running.length === 0 || Date.now() >= until) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every cluster slot of the run folder (numbers above {@link SLOT_BASE}), sorted by slot. */
export async function slotTotals(outDir: string): Promise<SlotTotals[]> {
  const journals = await listJournals(outDir);
  const rows = new Map<number, { symbols: number; windows: number; trades: number; quotes: number; failed: number }>();
  const row = (slot: number) => {
    let r = rows.get(slot);
    if (!r) rows.set(slot, (r = { symbols: 0, windows: 0, trades: 0, quotes: 0, failed: 0 }));
    return r;
  };
  for (const j of journals.detect) {
    if (j.index <= SLOT_BASE) continue;
    const r = row(j.index);
    for (const e of (await loadJournal<{ symbols?: unknown }>(j.path)).entries) r.symbols += Array.isArray(e.symbols) ? e.symbols.length : 0;
  }
  // Every process's committed windows (one-host partitions too): a failure one of them retried later is not a failure.
  const committed = new Set<string>();
  for (const j of journals.ingest) {
    const r = j.index > SLOT_BASE ? row(j.index) : undefined;
    await scanWindowJournal(j.path, (l) => {
      committed.add(l.event);
      if (!r) return;
      r.windows++;
      r.trades += Number.isFinite(l.trades) ? l.trades : 0;
      r.quotes += Number.isFinite(l.quotes) ? l.quotes : 0;
    });
  }
  for (const j of journals.failed) {
    if (j.index <= SLOT_BASE) continue;
    const failed = new Set<string>();
    for (const e of (await loadJournal<{ event?: unknown }>(j.path)).entries) if (typeof e.event === 'string' && !committed.has(e.event)) failed.add(e.event);
    row(j.index).failed += failed.size;
  }
  const beats = await lastBeats(outDir);
  for (const slot of beats.keys()) if (slot > SLOT_BASE) row(slot);
  return [...rows.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([slot, r]) => {
      const b = beats.get(slot);
      return { slot, host: b?.host, pid: b?.pid, ...r, requests: b?.requests ?? 0, ok: b?.ok ?? 0, rateLimited: b?.rateLimited ?? 0, lastBeatMs: b?.lastBeatMs, ended: b?.ended ?? false };
    });
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The per-host lines under the summary table: what each slot committed. */
export function formatSlotTotals(slots: readonly SlotTotals[], thisSlot: number): string[] {
  if (slots.length === 0) return [];
  const label = (s: SlotTotals) => `slot ${s.slot} on ${s.host ?? '?'}${s.pid !== undefined ? ` (pid ${s.pid})` : ''}${s.slot === thisSlot ? ', this process' : ''}`;
  const w = Math.max(...slots.map((s) => label(s).length));
  return [
    `Committed by each host (${slots.length} worker process${slots.length === 1 ? '' : 'es'}, from their journals):`,
    ...slots.map(
      (s) =>
        `  ${label(s).padEnd(w)}  ${fmt(s.symbols)} symbols, ${fmt(s.windows)} windows (trades ${fmt(s.trades)}, quotes ${fmt(s.quotes)}), ${fmt(s.failed)} failed; ` +
        `${fmt(s.requests)} requests, ${fmt(s.rateLimited)} 429s${s.ended || s.lastBeatMs === undefined ? '' : ' (no final heartbeat yet: still stopping, or killed)'}`,
    ),
  ];
}
