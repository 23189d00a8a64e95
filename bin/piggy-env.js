#!/usr/bin/env node
// The launcher on Node (development and tests). Pods run the single executable built by
// `npx tsx scripts/build-piggy-env.ts` from the same source.
import '../src/env/cli.ts';
