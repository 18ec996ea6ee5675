#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the package needs no build step.
require('tsx/cjs/api').register();
require('../src/cli/main.ts').runCli(process.argv);
