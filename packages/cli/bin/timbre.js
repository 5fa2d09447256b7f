#!/usr/bin/env node
// The `timbre` command (compiled by `npm run build`, which `npm install` runs).
import '../dist/main.js';
