#!/usr/bin/env node
// The package's `bin`: a plain-JS shim so `npx buzzer` works without a build step; tsx loads the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./buzzer-cli.ts');
