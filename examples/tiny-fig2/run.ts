// The paper's Figure 2 on the bundled tiny model: the same thing as `eecot replicate fig2`.
//   npx -y pnpm@10 exec tsx examples/tiny-fig2/run.ts --jobs 2          (~1.5 h on 2 cores)
//   npx -y pnpm@10 exec tsx examples/tiny-fig2/run.ts --quick           (seconds; the structure only)
// Every flag of `eecot replicate fig2 --help` works here; run it again to continue a killed run.
import { installErrorHandlers, reportError, runCli } from "@eecot/cli";

installErrorHandlers("tiny-fig2");
runCli(["node", "tiny-fig2", "replicate", "fig2", ...process.argv.slice(2)]).catch((error: unknown) => {
  reportError("tiny-fig2", error);
  process.exitCode = 1;
});
