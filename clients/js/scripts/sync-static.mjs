// Copy the built module to the file the gateway serves (gateway/static/scoreboard-push.js).
// The gateway image has no Node, so the copy is committed. `--check` only compares.
// Usage (from clients/js): npm run build && npm run sync-static
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const served = fileURLToPath(new URL('../../../gateway/static/scoreboard-push.js', import.meta.url));
const source = readFileSync(built);
if (process.argv.includes('--check')) {
  let current = null;
  try { current = readFileSync(served); } catch { /* missing */ }
  if (current === null || !current.equals(source)) {
    console.error(`${served} differs from ${built}: run npm run build && npm run sync-static`);
    process.exit(1);
  }
} else {
  writeFileSync(served, source);
  console.log(`copied ${built} -> ${served}`);
}
