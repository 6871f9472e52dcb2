/**
 * The client conformance scenario (clients/conformance/scenario.json), run with the TypeScript
 * client against a real engramd over both API versions (v2, the default, and v1): one subtest per
 * step, in order. The Python and Rust clients run the same file with their own runners.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client, EngramError } from "../src/index.js";
import { type Engramd } from "./support/engramd.js";
import { call, conformanceServer, loadScenario, mismatch, resolve, type Saved } from "./support/conformance.js";

const SCENARIO = loadScenario();

for (const apiVersion of ["v2", "v1"] as const) {
  // every step over both API versions, each against a fresh engramd (the scenario names its spaces)
  describe(`conformance scenario over API ${apiVersion}`, () => {
    let server: Engramd;
    let clients: Record<string, Client>;
    const saved: Saved = {};
    const deprecated = new Set<string>();

    before(async () => {
      server = await conformanceServer(SCENARIO); // fails (never skips) without engramd
      clients = Object.fromEntries(
        Object.entries(SCENARIO.keys).map(([name, key]) => [
          name,
          new Client(server.url, { apiKey: key, apiVersion, onDeprecated: (n) => deprecated.add(n.route) }),
        ]),
      );
    });

    after(async () => {
      await server?.stop();
    });

    test("the scenario has its steps", () => {
      assert.ok(SCENARIO.steps.length >= 30, "a scenario that lost its steps measures nothing");
    });

    for (const [i, step] of SCENARIO.steps.entries()) {
      test(`step ${i}: ${step.name}`, async () => {
        const client = clients[step.key ?? "admin"];
        assert.ok(client, `step ${i} names an unknown key ${step.key}`);
        const args = resolve(step.args ?? {}, saved) as Record<string, unknown>;
        let result: unknown;
        try {
          result = await call(client, step.call, args);
        } catch (e) {
          if (!(e instanceof EngramError)) throw e;
          assert.ok(step.error, `unexpected error ${e.name}: ${e.message}`);
          assert.deepEqual(
            { code: e.code, status: e.status },
            step.error,
            `error ${e.code}/${e.status}, expected ${step.error.code}/${step.error.status}`,
          );
          return;
        }
        assert.equal(step.error, undefined, `returned ${JSON.stringify(result)}, expected error ${JSON.stringify(step.error)}`);
        const why = mismatch(result, step.expect, saved);
        assert.equal(why, null, why ?? "");
        if (step.save !== undefined) saved[step.save] = result;
      });
    }

    test(apiVersion === "v1" ? "the v1 routes said they are deprecated" : "no v2 route said it is deprecated", () => {
      if (apiVersion === "v2") assert.deepEqual([...deprecated], []);
      else assert.ok(deprecated.has("GET /spaces") && deprecated.has("POST /spaces/{space}/memories"), [...deprecated].join(", "));
    });
  });
}

describe("the matcher can fail", () => {
  // the rules of the README, including what must not match (so a broken matcher is caught)
  const cases: [unknown, unknown, boolean][] = [
    [{ a: 1, b: 2 }, { a: 1 }, true],
    [[1, 2], [1], false],
    [0.89999997, 0.9, true],
    [0.8, 0.9, false],
    [[3, 1, 2], { $all: [1, 2] }, true],
    [[1, 1], { $all: [1, 1, 1] }, false],
    [5, { $type: "id" }, true],
    [5.5, { $type: "id" }, false],
    [true, { $type: "id" }, false],
    [0.5, { $range: [0, 1] }, true],
    [1.5, { $range: [0, 1] }, false],
    ["$x", "$$x", true],
    [7, "$saved", true],
    [8, "$saved", false],
    [null, null, true],
    [false, null, false],
    // beyond the Python table: objects, nesting, lengths and types
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }, true],
    [{ a: [1, { b: "x" }] }, { a: [1, { b: "y" }] }, false],
    ["abc", { $len: 3 }, true],
    [[1, 2], { $len: 3 }, false],
    ["1", 1, false],
    [1, "1", false],
    [null, { $type: "null" }, true],
    [{}, { $type: "array" }, false],
    [[{ id: 7 }], [{ id: "$saved" }], true],
  ];
  for (const [actual, expected, ok] of cases) {
    test(`${JSON.stringify(actual)} ${ok ? "matches" : "does not match"} ${JSON.stringify(expected)}`, () => {
      assert.equal(mismatch(actual, expected, { saved: 7 }) === null, ok);
    });
  }

  test("a reference to a result no step saved is an error", () => {
    assert.throws(() => mismatch(1, "$nothing", {}), /no step saved/);
  });

  test("references resolve into saved results", () => {
    const saved = { batch: [10, 11], report: { formed: [5, 6] } };
    assert.deepEqual(resolve({ id: "$batch.1", c: "$report.formed.0", s: "$$lit", n: [1, "$batch.0"] }, saved), {
      id: 11,
      c: 5,
      s: "$lit",
      n: [1, 10],
    });
  });
});
