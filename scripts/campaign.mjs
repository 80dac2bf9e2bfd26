#!/usr/bin/env node
// `npm run campaign -- --seeds N [--seed S] [--duration 60] [--mode FULL_SYNC|PRIMARY_SYNC|both] [--out DIR]`:
// the Jepsen-style verification campaign (docs/verification.md). The code lives in
// packages/testkit/src/campaign/; this entry only runs it (after `tsc -b`).
import { campaignMain } from '../packages/testkit/dist/index.js';

const code = await campaignMain(process.argv.slice(2));
// Every run has closed its cluster and lab by now; exit even if a client library left a timer.
process.exit(code);
