#!/usr/bin/env node
// In a checkout (src/ is here) the CLI runs from the TypeScript source through tsx, so working on
// durable-fit needs no build step; the installed package has only the compiled dist/ (no tsx).
const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
if (fs.existsSync(source)) {
  require('tsx/cjs/api').register();
  require(source).runCli(process.argv);
} else {
  require('../dist/src/cli/main.js').runCli(process.argv);
}
