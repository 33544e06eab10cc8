#!/usr/bin/env node
// Thin launcher: register tsx's loader, then run the TypeScript CLI (no build step needed).
import { register } from 'tsx/esm/api';

register();
process.env.GRIDHOST_CLI = '1';
await import('../src/cli/main.ts');
