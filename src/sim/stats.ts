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
  /** Complete 200 responses per whole second since `since` (index 0 = first second), counted when each response ends. */
  readonly okPerSecond: readonly number[];
  /**
   * Requests received per whole second since `since`, by the server's clock when each arrived
   * (refused ones included): the client's pacing as the server sees it, without the noise of
   * response times that `okPerSecond` carries.
   */
  readonly requestsPerSecond: readonly number[];
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
  private requestsPerSecond: number[] = [];

  request(): void {
    this.requests++;
    this.countSecond(this.requestsPerSecond);
  }

  /** One more in the current whole second of `perSecond`. */
  private countSecond(perSecond: number[]): void {
    const sec = Math.floor((Date.now() - this.since) / 1000);
    while (perSecond.length <= sec) perSecond.push(0);
    perSecond[sec]!++;
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
    this.countSecond(this.okPerSecond);
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
      requestsPerSecond: [...this.requestsPerSecond],
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
    this.requestsPerSecond = [];
  }
}
