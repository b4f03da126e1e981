/**
 * Entry point of a page thread started by {@link PageThreads}: builds reply bodies, one job at a
 * time, into slabs of shared memory the server's loop reads them from (see page-threads.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { internalErrorReply, renderPage, type PageDataOptions } from './page.js';
import { slabBytesFor, type PageDone, type PageJob, type SlabRelease } from './page-threads.js';

const port = parentPort!;
const data = workerData as PageDataOptions;

/** This thread's slabs: shared with the server loop once, reused once it releases them. */
const slabs: Array<{ readonly bytes: Uint8Array; free: boolean }> = [];

/** A free slab of at least `n` bytes (the smallest), or a new one; its index and, if new, its memory to share. */
function slabFor(n: number): { index: number; shared?: SharedArrayBuffer } {
  let best = -1;
  for (let i = 0; i < slabs.length; i++) {
    const s = slabs[i]!;
    if (s.free && s.bytes.length >= n && (best < 0 || s.bytes.length < slabs[best]!.bytes.length)) best = i;
  }
  if (best >= 0) return { index: best };
  const shared = new SharedArrayBuffer(slabBytesFor(n));
  slabs.push({ bytes: new Uint8Array(shared), free: true });
  return { index: slabs.length - 1, shared };
}

port.on('message', (m: PageJob | SlabRelease) => {
  if ('release' in m) {
    slabs[m.release]!.free = true;
    return;
  }
  const job = m;
  let r;
  try {
    r = renderPage(data, job.req);
  } catch (err) {
    r = internalErrorReply(job.req.requestId, err);
  }
  const b = r.body;
  if (typeof b === 'string') {
    // Error bodies stay text, as on the server loop (the echoKey fault rewrites text bodies only).
    port.postMessage({ id: job.id, status: r.status, body: b, repeatedCursor: r.repeatedCursor } satisfies PageDone);
    return;
  }
  const slab = slabFor(b.length);
  const s = slabs[slab.index]!;
  s.free = false;
  s.bytes.set(b);
  port.postMessage({ id: job.id, status: r.status, body: { slab: slab.index, length: b.length, ...(slab.shared ? { shared: slab.shared } : {}) }, repeatedCursor: r.repeatedCursor } satisfies PageDone);
});
