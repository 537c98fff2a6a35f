import {
  type ExecutionListItem,
  ListExecutionsCommand,
  type ListExecutionsCommandInput,
  type SFNClient,
} from '@aws-sdk/client-sfn';

/**
 * A state machine's executions, one `ListExecutions` page at a time, newest first. A generator, so each caller
 * (`buzzer status`, `buzzer saga redrive --since`, the chaos run's checks) stops asking for pages by its own rule.
 */
export async function* executionPages(
  sfn: SFNClient,
  input: Omit<ListExecutionsCommandInput, 'nextToken'>,
): AsyncGenerator<ExecutionListItem[]> {
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ ...input, nextToken }));
    yield page.executions ?? [];
    nextToken = page.nextToken;
  } while (nextToken);
}
