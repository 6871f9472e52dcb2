/** A scripted stand-in for engramd's observation stream (a ws WebSocketServer on a free port). */
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

import WebSocket, { WebSocketServer } from "ws";

export type Msg = Record<string, unknown>;

export interface FakeConnection {
  /** 0 for the first connection, 1 for the first reconnection, ... */
  n: number;
  ws: WebSocket;
  path: string;
  headers: IncomingHttpHeaders;
  received: Msg[];
  send(msg: Msg): void;
}

export interface FakeStreamServer {
  url: string;
  connections: FakeConnection[];
  close(): Promise<void>;
}

/** `onOpen` runs for each connection; `onObservation` for each message the client sends. */
export function fakeStreamServer(script: {
  onOpen?: (c: FakeConnection) => void;
  onObservation: (c: FakeConnection, obs: Msg) => void;
}): Promise<FakeStreamServer> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  const connections: FakeConnection[] = [];
  wss.on("connection", (ws, req) => {
    const c: FakeConnection = {
      n: connections.length,
      ws,
      path: req.url ?? "",
      headers: req.headers,
      received: [],
      send: (msg) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
      },
    };
    connections.push(c);
    ws.on("message", (data) => {
      const obs = JSON.parse((data as Buffer).toString("utf8")) as Msg;
      c.received.push(obs);
      script.onObservation(c, obs);
    });
    if (script.onOpen) script.onOpen(c);
    else c.send({ type: "ready", session: `s${c.n}`, max_outstanding: 1000, queue_limit: 10000 });
  });
  return new Promise((resolve) => {
    wss.on("listening", () => {
      const { port } = wss.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        connections,
        close: () =>
          new Promise<void>((done) => {
            for (const cl of wss.clients) cl.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
}

/** The stream index of an observation, from its default idempotency key `<stream id>-<index>`. */
export function indexOf(obs: Msg): number {
  return Number(String(obs["idempotency_key"]).split("-").at(-1));
}

export function ack(c: FakeConnection, obs: Msg, replayed = false): void {
  c.send({ type: "ack", seq: obs["seq"], id: 1000 + indexOf(obs), replayed });
}
