/** Types of bench/soak-verify.js (plain ESM over dist/, so the soak needs no compile step). */
export interface VerifyOptions {
  readonly out: string;
  readonly seed: number;
  readonly symbols: readonly string[];
  /** @default { beforeMs: 600000, afterMs: 1200000 } */
  readonly window?: { readonly beforeMs: number; readonly afterMs: number };
  /** @default 1 */
  readonly quotesHz?: number;
  /** @default 20 */
  readonly maxProblems?: number;
  /** The simulator's data functions of the server that served the run. @default dist/sim's */
  readonly truth?: {
    readonly simTrades: (seed: number, ticker: string, gteNs: bigint, lteNs: bigint) => ReadonlyArray<{ readonly sip_timestamp: bigint; readonly price: number; readonly size: number }>;
    readonly simQuotes: (seed: number, ticker: string, gteNs: bigint, lteNs: bigint) => ReadonlyArray<{ readonly sip_timestamp: bigint; readonly bid_price: number }>;
  };
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly problems: string[];
  readonly problemCount: number;
  readonly detect: {
    readonly symbolsJournaled: number;
    readonly symbolsTwice: number;
    readonly symbolsMissing: number;
    readonly shards: number;
    readonly shardRows: number;
    readonly duplicateEventRows: number;
    readonly manifestEvents: number;
    readonly corruptShards: number;
  };
  readonly ingest: {
    readonly journaled: number;
    readonly journaledTwice: number;
    readonly failed: number;
    readonly lost: number;
    readonly corruptFiles: number;
    readonly mismatchedWindows: number;
    readonly orphanWindows: number;
    readonly tmpLeftovers: number;
    readonly trades: number;
    readonly quotes: number;
  };
}

/** Checks a finished run folder against the simulator's own data (see soak-verify.js). */
export function verifyRunFolder(opts: VerifyOptions): Promise<VerifyReport>;
