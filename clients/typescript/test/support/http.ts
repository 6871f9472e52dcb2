/** A local node:http server with scripted answers, recording every request it gets. */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** Answers the n-th request (from 0); may destroy the socket instead of answering. */
export type Handler = (n: number, req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

export interface FakeServer {
  url: string;
  requests: Seen[];
  close(): Promise<void>;
}

export function fakeServer(handler: Handler): Promise<FakeServer> {
  const requests: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(seen);
      handler(requests.length - 1, req, res, seen);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", "X-Request-Id": "req-test", ...headers });
  res.end(JSON.stringify(body));
}

export function apiError(
  res: ServerResponse,
  status: number,
  code: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  json(res, status, { error: { code, message: `${code} (test)`, status, request_id: "req-err", ...extra } }, headers);
}

/** Drops the connection without answering (the server saw the request: an ambiguous failure). */
export function drop(req: IncomingMessage): void {
  req.socket.destroy();
}
