/**
 * The terminal view of a running job. On a TTY it redraws a small block in place a few times a
 * second; otherwise it prints one plain line every `plainEveryMs`, which is what a log file or CI
 * wants.
 */
export interface ProgressViewOptions {
  readonly stream: NodeJS.WriteStream;
  /** @default stream.isTTY */
  readonly tty?: boolean;
  /** @default 250 */
  readonly redrawMs?: number;
  /** @default 5000 */
  readonly plainEveryMs?: number;
}

export class ProgressView {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly redrawMs: number;
  private readonly plainEveryMs: number;
  private drawn = 0;
  private lastDraw = 0;
  private pending: (() => string[]) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: ProgressViewOptions) {
    this.stream = opts.stream;
    this.tty = opts.tty ?? Boolean(opts.stream.isTTY);
    this.redrawMs = opts.redrawMs ?? 250;
    this.plainEveryMs = opts.plainEveryMs ?? 5_000;
  }

  /** Asks for a redraw; `render` is called lazily, at most once per redraw period. */
  update(render: () => string[]): void {
    this.pending = render;
    const every = this.tty ? this.redrawMs : this.plainEveryMs;
    const wait = this.lastDraw + every - Date.now();
    if (wait <= 0) this.draw();
    else if (!this.timer) this.timer = setTimeout(() => this.draw(), wait).unref();
  }

  /** Prints a line above the live block (TTY) or as is (plain). */
  line(text: string): void {
    this.clear();
    this.stream.write(text + '\n');
  }

  /** Draws the last state once more and stops redrawing. */
  end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending) this.draw();
    this.drawn = 0;
  }

  private clear(): void {
    if (this.tty && this.drawn > 0) {
      // `\r` first: the terminal's echo of Ctrl-C ("^C") moved the cursor off column 0, and
      // clearing from there would leave the start of the block's first line on the screen.
      this.stream.write(`\r\x1b[${this.drawn}A\x1b[J`);
      this.drawn = 0;
    }
  }

  private draw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const render = this.pending;
    if (!render) return;
    this.pending = undefined;
    this.lastDraw = Date.now();
    const lines = render();
    if (this.tty) {
      this.clear();
      const width = this.stream.columns || 120;
      this.stream.write(lines.map((l) => fitLine(l, width)).join('\n') + '\n');
      this.drawn = lines.length;
    } else {
      this.stream.write(lines.join(' | ') + '\n');
    }
  }
}

/**
 * `line` cut to fit a terminal of `width` columns: a line that would wrap breaks the block's
 * redraw (the cursor-up count would be wrong), so it is cut — at the last `, ` field boundary that
 * fits, with `…`, so no figure is shown half (`rss 3` of `rss 312 MB`).
 *
 * @example
 * ```ts
 * fitLine('detect 25/25 symbols, ETA 0s, rss 312 MB', 32); // 'detect 25/25 symbols, ETA 0s, …'
 * ```
 */
export function fitLine(line: string, width: number): string {
  if (line.length <= width) return line;
  const room = width - 2; // keep the last column free (some terminals wrap on it) and room for '…'
  const cut = line.lastIndexOf(', ', room - 1);
  return cut > 0 ? `${line.slice(0, cut + 2)}…` : `${line.slice(0, room)}…`;
}

export { bar, formatDuration } from '../progress/format.js';
