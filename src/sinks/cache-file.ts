/**
 * The container of the two cache files beside the journals, `committed.idx` (the committed index)
 * and `committed.keys` (the manifest key file): `MAGIC`, a u32 (LE) header length, a JSON header
 * that names the whole file's length (`fileBytes`, so a torn copy is refused at once), zero padding
 * to `align` bytes, then the binary sections the header describes. Both are caches: the journals
 * stay the commit point, so a write that fails only costs the next start some time.
 *
 * @example
 * ```ts
 * const MAGIC = Buffer.from('TPDEMO\u0000\u0001', 'latin1');
 * const body = new Uint8Array(new Uint32Array([1, 2, 3]).buffer);
 * const head = cacheHeader(MAGIC, { count: 3 }, body.length, 4);
 * await publishCacheFile('/out/state/ingest/demo.bin', [head, body]); // true
 * const { header, bodyStart } = readCacheHeader<{ count: number; fileBytes: number }>(buf, MAGIC, 4);
 * ```
 */
import * as fsp from 'node:fs/promises';
import { publishAtomically } from '../fs/publish-atomically.js';

/** `n` rounded up to a multiple of `align` (a power of two). */
export const alignUp = (n: number, align: number): number => (n + align - 1) & ~(align - 1);

/**
 * The header block: magic, JSON length, `{ ...draft, fileBytes }`, padding to `align`. `fileBytes`
 * counts the header too, whose length depends on it: iterated to the fixed point (two rounds at most
 * unless the number's width changes).
 */
export function cacheHeader(magic: Buffer, draft: Record<string, unknown>, bodyBytes: number, align: number): Buffer {
  const headBytes = (json: string): number => alignUp(magic.length + 4 + Buffer.byteLength(json), align);
  let fileBytes = 0;
  let json = JSON.stringify({ ...draft, fileBytes });
  for (let total = headBytes(json) + bodyBytes; total !== fileBytes; total = headBytes(json) + bodyBytes) {
    fileBytes = total;
    json = JSON.stringify({ ...draft, fileBytes });
  }
  const head = Buffer.alloc(headBytes(json));
  magic.copy(head, 0);
  head.writeUInt32LE(Buffer.byteLength(json), magic.length);
  head.write(json, magic.length + 4, 'utf8');
  return head;
}

/**
 * Reads the header of a cache file: throws (a plain Error, the caller treats the file as absent)
 * when the magic is not `magic` or `fileBytes` is not the buffer's length.
 */
export function readCacheHeader<H extends { fileBytes: number }>(buf: Buffer, magic: Buffer, align: number): { header: H; bodyStart: number } {
  if (buf.length < magic.length + 4 || !buf.subarray(0, magic.length).equals(magic)) throw new Error('not this kind of cache file');
  const headerBytes = buf.readUInt32LE(magic.length);
  const header = JSON.parse(buf.toString('utf8', magic.length + 4, magic.length + 4 + headerBytes)) as H;
  if (header.fileBytes !== buf.length) throw new Error('torn cache file');
  return { header, bodyStart: alignUp(magic.length + 4 + headerBytes, align) };
}

/**
 * A cache file's bytes, held in a resizable `ArrayBuffer` so that {@link release} gives the pages
 * back to the OS at the call. A plain Buffer that is merely dropped waits for V8's next
 * mark-compact: on a 572,850-event restart the committed index and the key file (~41 MB) stayed in
 * the peak RSS while the first window worker loaded Polars (+40 MB), measured 176–181 MB.
 */
export interface CacheBytes {
  /** The whole file (byte offset 0: typed-array views of it are aligned). Empty after {@link release}. */
  readonly buf: Buffer;
  /** Shrinks the buffer to 0 bytes: every view of it reads as empty from now on. Idempotent. */
  release(): void;
}

/** ES2024's resizable ArrayBuffer (V8 11, Node 20), typed here: the project's lib is ES2022. */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(bytes: number): void };

/** Reads `path` into {@link CacheBytes}; rejects like `readFile` (a missing file is ENOENT). */
export async function readCacheBytes(path: string): Promise<CacheBytes> {
  const h = await fsp.open(path, 'r');
  try {
    const size = (await h.stat()).size;
    const ab = new ResizableArrayBuffer(size, { maxByteLength: Math.max(size, 1) });
    const buf = Buffer.from(ab, 0, size);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await h.read(buf, pos, size - pos, pos);
      if (bytesRead === 0) break; // shrunk while read: the header's fileBytes check refuses it
      pos += bytesRead;
    }
    const bytes = pos === size ? buf : buf.subarray(0, pos);
    return { buf: bytes, release: () => ab.resize(0) };
  } finally {
    await h.close().catch(() => undefined);
  }
}

/** Writes `parts` in order to `path` atomically; false (and nothing published) when that fails. */
export async function publishCacheFile(path: string, parts: readonly Uint8Array[]): Promise<boolean> {
  try {
    await publishAtomically(
      path,
      async (tmp) => {
        const f = await fsp.open(tmp, 'wx');
        try {
          for (const part of parts) await f.write(part);
        } finally {
          await f.close();
        }
      },
      { renameTimeoutMs: 2_000 },
    );
    return true;
  } catch {
    return false;
  }
}
