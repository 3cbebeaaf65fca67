// A vitest reporter that ends the run with every skipped test file and why it was skipped, so a
// skipped browser or webgpu test says so in the summary (not only in a stderr line that scrolls
// by). The reason is the test's skip note (`context.skip(note)`) or, for `skipIf`, the text after
// "skipped: " in its title: tests that may skip put their reason there.
import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

/** The reason in a skipped test's full name ("… (skipped: no adapter)"), or null. */
export function skipReasonOf(fullName: string, note: string | undefined): string | null {
  if (note) return note;
  const match = /skipped: (.*?)\)?$/.exec(fullName);
  return match ? match[1]! : null;
}

export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const module of testModules) {
      const reasons = new Map<string, number>();
      for (const test of module.children.allTests()) {
        if (test.result().state !== "skipped" || test.options.mode === "todo") continue;
        // Tests without a reason are left out: a -t filter skips every other test that way.
        const reason = skipReasonOf(test.fullName, test.result().note);
        if (reason === null) continue;
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      for (const [reason, count] of reasons) lines.push(`  ↓ ${relative(process.cwd(), module.moduleId)}: ${count} skipped: ${reason}`);
    }
    if (lines.length > 0) process.stdout.write(`\n Skipped, and why:\n${lines.join("\n")}\n`);
  }
}
