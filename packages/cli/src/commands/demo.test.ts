// The demo's closing hints name a command the user can run where the demo came from.
import { describe, expect, it } from "vitest";
import { eecotCommand } from "./demo.js";

describe("eecotCommand", () => {
  it("is `pnpm eecot` in a clone (sources through tsx) and `npx eecot` from an installed dist", () => {
    expect(eecotCommand("file:///work/eecot/packages/cli/src/commands/demo.ts")).toBe("pnpm eecot");
    expect(eecotCommand("file:///app/node_modules/@eecot/cli/dist/bin.js")).toBe("npx eecot");
    expect(eecotCommand()).toBe("pnpm eecot"); // this test runs the sources
  });
});
