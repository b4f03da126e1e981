/**
 * A loopback HTTP proxy in front of a server (usually the simulator) whose `rewrite` hook may
 * replace any reply: for tests that need a server answering in ways the simulator does not
 * (200 with an ERROR body, a poison row, rows repeated across pages…).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface ProxiedReply {
  status: number;
  body: string;
}

/** Gets the request URL (path + query, the key included as sent) and the upstream reply; returns the reply to send. */
export type Rewrite = (url: URL, reply: ProxiedReply, n: number) => ProxiedReply | Promise<ProxiedReply>;

export interface RewriteProxy {
  readonly url: string;
  /** Requests seen, by path. */
  readonly seen: Map<string, number>;
  close(): Promise<void>;
}

export async function startRewriteProxy(target: string, rewrite: Rewrite): Promise<RewriteProxy> {
  const seen = new Map<string, number>();
  let n = 0;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, `http://${req.headers.host}`);
    const k = n++;
    seen.set(u.pathname, (seen.get(u.pathname) ?? 0) + 1);
    request(target + req.url!, { headers: req.headers.authorization ? { authorization: req.headers.authorization } : {} })
      .then(async (r) => {
        // next_url carries the upstream origin: point it at the proxy.
        const body = (await r.body.text()).split(target).join(`http://${req.headers.host}`);
        const out = await rewrite(u, { status: r.statusCode, body }, k);
        res.writeHead(out.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out.body) });
        res.end(out.body);
      })
      .catch(() => req.socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
