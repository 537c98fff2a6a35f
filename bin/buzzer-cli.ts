/** `npx buzzer …`: the operator CLI (ops/cli/program.ts). */
import { runCli } from '../ops/cli/program.ts';

process.exitCode = await runCli(process.argv.slice(2));
