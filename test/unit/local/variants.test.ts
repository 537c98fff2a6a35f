/** Which cloud assembly `npm start` runs for the variant flags it is given (`--api`, `--order-flow`, `--mail-service`). */
import { describe, expect, it } from 'vitest';
import {
  cdkOutForContext,
  MAILBURST_CDK_OUT,
  MIXED_VARIANTS_CDK_OUT,
  REST_CDK_OUT,
  SYNC_CDK_OUT,
} from '#local/buzzer/synth.ts';

describe('cdkOutForContext', () => {
  it('keeps each variant in the assembly its tests and the bench synthesize, the default stack in cdk.out', () => {
    expect(cdkOutForContext({})).toBe('cdk.out');
    expect(cdkOutForContext({ workflowType: 'EXPRESS' })).toBe('cdk.out');
    expect(cdkOutForContext({ apiFlavour: 'rest' })).toBe(REST_CDK_OUT);
    expect(cdkOutForContext({ orderFlow: 'sync' })).toBe(SYNC_CDK_OUT);
    expect(cdkOutForContext({ mailService: 'burst', workflowType: 'EXPRESS' })).toBe(MAILBURST_CDK_OUT);
  });

  it('gives the defaults named outright the default assembly, and variants chosen together one of their own', () => {
    expect(cdkOutForContext({ apiFlavour: 'http', orderFlow: 'async', mailService: 'notify' })).toBe(
      'cdk.out',
    );
    expect(cdkOutForContext({ orderFlow: 'sync', mailService: 'burst' })).toBe(MIXED_VARIANTS_CDK_OUT);
  });
});
