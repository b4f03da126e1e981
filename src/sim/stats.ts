/** Request counters of a running simulator, for tests and benchmarks that measure the client. */
export interface SimStats {
  /** When counting started (after start or the last reset), Unix ms. */
  readonly since: number;
  /** Requests received (every request, whatever happened to it). */
  readonly requests: number;
  /** Responses by HTTP status, counted when the status line is written (so truncated/stalled 200s count too). */
  readonly byStatus: Readonly<Record<number, number>>;
  /** 429 responses. */
  readonly rateLimited: number;
  /** Injected 5xx responses. */
  readonly injectedErrors: number;
  /** Connections destroyed without a response. */
  readonly resets: number;
  /** Responses cut off after part of the body. */
  readonly truncations: number;
  /** Responses stalled after part of the body. */
  readonly stalls: number;
  /** next_url values pointed back at an already-served cursor. */
  readonly repeatedCursors: number;
  /** Complete 200 responses. */
  readonly ok: number;
  /** Complete 200 responses per whole second since `since` (index 0 = first second). */
  readonly okPerSecond: readonly number[];
}

export class StatsRecorder {
  private since = Date.now();
  private requests = 0;
  private byStatus: Record<number, number> = {};
  private rateLimited = 0;
  private injectedErrors = 0;
  private resets = 0;
  private truncations = 0;
  private stalls = 0;
  private repeatedCursors = 0;
  private ok = 0;
  private okPerSecond: number[] = [];

  request(): void {
    this.requests++;
  }

  status(code: number): void {
    this.byStatus[code] = (this.byStatus[code] ?? 0) + 1;
    if (code === 429) this.rateLimited++;
  }

  injectedError(): void {
    this.injectedErrors++;
  }

  reset(): void {
    this.resets++;
  }

  truncation(): void {
    this.truncations++;
  }

  stall(): void {
    this.stalls++;
  }

  repeatedCursor(): void {
    this.repeatedCursors++;
  }

  completedOk(): void {
    this.ok++;
    const sec = Math.floor((Date.now() - this.since) / 1000);
    while (this.okPerSecond.length <= sec) this.okPerSecond.push(0);
    this.okPerSecond[sec]!++;
  }

  snapshot(): SimStats {
    return {
      since: this.since,
      requests: this.requests,
      byStatus: { ...this.byStatus },
      rateLimited: this.rateLimited,
      injectedErrors: this.injectedErrors,
      resets: this.resets,
      truncations: this.truncations,
      stalls: this.stalls,
      repeatedCursors: this.repeatedCursors,
      ok: this.ok,
      okPerSecond: [...this.okPerSecond],
    };
  }

  clear(): void {
    this.since = Date.now();
    this.requests = 0;
    this.byStatus = {};
    this.rateLimited = 0;
    this.injectedErrors = 0;
    this.resets = 0;
    this.truncations = 0;
    this.stalls = 0;
    this.repeatedCursors = 0;
    this.ok = 0;
    this.okPerSecond = [];
  }
}
