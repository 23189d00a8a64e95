#!/usr/bin/env node
import '../src/env/cli.ts';
