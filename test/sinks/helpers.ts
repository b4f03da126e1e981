import type { Quote, Trade } from '../../src/types.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp folder; removed by the returned cleanup. */
export async function tempDir(prefix = 'tickpipe-sinks-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An errno-style error as Node raises them. */
export function errno(code: string, syscall = 'write'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall });
}

export const T0 = 1_701_954_120_000_000_001n;
export const fakeTrades = (n: number, base = T0): Trade[] =>
  Array.from({ length: n }, (_, i) => ({ sip_timestamp: base + BigInt(i), participant_timestamp: base, exchange: 4, id: `t${i}`, price: 10 + i / 100, sequence_number: i, size: 100, tape: 3, conditions: [12] }));
export const fakeQuotes = (n: number, base = T0): Quote[] =>
  Array.from({ length: n }, (_, i) => ({ sip_timestamp: base + BigInt(i), participant_timestamp: base, ask_exchange: 1, ask_price: 10.1, ask_size: 1, bid_exchange: 2, bid_price: 10, bid_size: 1, sequence_number: i, tape: 3 }));

