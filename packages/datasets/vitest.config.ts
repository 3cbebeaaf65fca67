// `pnpm test` in this package: its own tests, with the workspace packages resolved to sources.
import { packageConfig } from "../../vitest.shared.js";

export default packageConfig("datasets");
