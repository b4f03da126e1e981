/** Entry point of a page thread started by {@link PageThreads}: builds reply bodies, one job at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import { internalErrorReply, renderPage, type PageDataOptions } from './page.js';
import type { PageDone, PageJob } from './page-threads.js';

const port = parentPort!;
const data = workerData as PageDataOptions;

port.on('message', (job: PageJob) => {
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
  // Transferring hands over the whole ArrayBuffer: fine for a body's own buffer (a view keeps its
  // offset and length), not for Node's shared pool of small Buffers (≤ Buffer.poolSize), copied out.
  const bytes = b.buffer.byteLength > Buffer.poolSize ? b : new Uint8Array(b);
  port.postMessage({ id: job.id, status: r.status, body: bytes, repeatedCursor: r.repeatedCursor } satisfies PageDone, [bytes.buffer as ArrayBuffer]);
});
