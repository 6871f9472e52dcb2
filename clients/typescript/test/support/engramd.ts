/**
 * Starting engramd for the tests and for `npm run gen:types`, as clients/conformance/README.md
 * says: `$ENGRAM_ENGRAMD`, else `engramd` on PATH; its JSON log lines on standard error are read
 * until the one whose `event` is `listening`, whose `url` is the base URL; SIGTERM stops it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The engramd to run; throws (never skips) when there is none. */
export function findEngramd(): string {
  const env = process.env["ENGRAM_ENGRAMD"];
  if (env) {
    if (!executable(env)) throw new Error(`ENGRAM_ENGRAMD=${env} is not an executable file`);
    return path.resolve(env);
  }
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, "engramd"))) return path.join(dir, "engramd");
  }
  throw new Error(
    "engramd not found: set ENGRAM_ENGRAMD to its path (a checkout's build puts it in build/tests/engramd) " +
      "or put engramd on PATH",
  );
}

export interface Engramd {
  url: string;
  pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** The last lines it logged (for failure messages). */
  log(): string;
}

/** Starts `engramd <args>` and resolves once it listens. */
export function startEngramd(args: readonly string[], startTimeoutMs = 15_000): Promise<Engramd> {
  const bin = findEngramd();
  const child: ChildProcess = spawn(bin, [...args], { stdio: ["ignore", "ignore", "pipe"] });
  const lines: string[] = [];
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const stop = async (graceMs = 20_000): Promise<number | null> => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return new Promise<Engramd>((resolve, reject) => {
    let done = false;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void stop(1000);
      reject(new Error(`engramd did not start (${bin} ${args.join(" ")}): ${why}\n${lines.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`no "listening" line within ${startTimeoutMs} ms`), startTimeoutMs);
    child.once("error", (e) => fail(e.message));
    void exited.then((code) => fail(`exit ${code}`));
    // read every line, also after "listening", so that a full pipe never blocks the server
    const rl = createInterface({ input: child.stderr! });
    rl.on("line", (line) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      if (done) return;
      let url: unknown;
      try {
        const ev = JSON.parse(line) as { event?: unknown; url?: unknown };
        if (ev.event === "listening") url = ev.url;
      } catch {
        return;
      }
      if (typeof url !== "string") return;
      done = true;
      clearTimeout(timer);
      resolve({ url, pid: child.pid ?? -1, stop, log: () => lines.join("\n") });
    });
  });
}
