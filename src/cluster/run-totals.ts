/**
 * What every process of a cluster run committed, for the summary `run --cluster` prints at its
 * end: each slot's own journals (`worker-K.jsonl`, `part-K.jsonl`, `part-K.failed.jsonl`) say what
 * it committed and what failed; its heartbeat file says which host it ran on and how many requests
 * it sent. The journals are the truth; the heartbeats only name hosts and count requests.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { readRunFolder, SLOT_HEARTBEAT_RE } from '../run-folder/index.js';
import { heartbeatFiles } from '../ops/hosts-view.js';
import { readSlotBeat, type SlotBeat } from '../progress/heartbeat.js';
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

/** The last line of each slot's heartbeat file (torn or foreign lines are skipped), by slot. */
async function lastBeats(outDir: string): Promise<Map<number, SlotBeat>> {
  const beats = new Map<number, SlotBeat>();
  for (const file of await heartbeatFiles(outDir)) {
    const m = SLOT_HEARTBEAT_RE.exec(basename(file));
    if (!m) continue;
    const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      let beat: SlotBeat | undefined;
      try {
        beat = readSlotBeat(JSON.parse(lines[i]!) as Record<string, unknown>);
      } catch {
        continue;
      }
      if (beat === undefined || beat.timeMs === undefined) continue;
      beats.set(Number(m[1]), beat);
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
    const running = [...beats].filter(([slot, b]) => slot !== ownSlot && !b.ended && b.timeMs !== undefined && b.timeMs >= sinceMs);
    if (running.length === 0 || Date.now() >= until) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Every cluster slot of the run folder (numbers above {@link SLOT_BASE}), sorted by slot: what the
 * run-folder model counts as committed (its duplicate rule: the first line of an item commits it),
 * attributed to the slot whose journal holds that line. A window re-delivered by BullMQ and
 * journaled by two slots counts once, for the first.
 */
export async function slotTotals(outDir: string): Promise<SlotTotals[]> {
  const rows = new Map<number, { symbols: number; windows: number; trades: number; quotes: number; failed: number }>();
  const row = (slot: number) => {
    let r = rows.get(slot);
    if (!r) rows.set(slot, (r = { symbols: 0, windows: 0, trades: 0, quotes: 0, failed: 0 }));
    return r;
  };
  // Summed as the model folds each line (no per-window objects kept: windowDetail false).
  const model = await readRunFolder(outDir, {
    windowDetail: false,
    observer: {
      onDetectLine: (file, line, _where, fold) => {
        if (file.index > SLOT_BASE) row(file.index).symbols += line.symbols.length - fold.repeatedSymbols.length;
      },
      onWindowLine: (_event, _where, repeatOf, line, file) => {
        if (repeatOf !== undefined || file.index <= SLOT_BASE) return;
        const r = row(file.index);
        r.windows++;
        r.trades += line.trades;
        r.quotes += line.quotes;
      },
    },
  });
  for (const f of model.failures.values()) if (f.journal > SLOT_BASE) row(f.journal).failed++;
  const beats = await lastBeats(outDir);
  for (const slot of beats.keys()) if (slot > SLOT_BASE) row(slot);
  return [...rows.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([slot, r]) => {
      const b = beats.get(slot);
      return { slot, host: b?.host, pid: b?.pid ?? undefined, ...r, requests: b?.requests ?? 0, ok: b?.ok ?? 0, rateLimited: b?.rateLimited ?? 0, lastBeatMs: b?.timeMs, ended: b?.ended ?? false };
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
