import { describe, expect, it } from 'vitest';
import {
  circuitState,
  DEFAULT_CIRCUIT_POLICY,
  heldUntil,
  isSlowAnswer,
  openUntil,
} from '#functions/webhooks/circuit.ts';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const MINUTE = 60_000;

describe('circuit state', () => {
  it('is closed without a cooldown, open before it ends, half-open once it has', () => {
    expect(circuitState(undefined, NOW)).toBe('closed');
    expect(circuitState('2026-05-01T12:00:00.001Z', NOW)).toBe('open');
    expect(circuitState('2026-05-01T12:00:00.000Z', NOW)).toBe('half_open');
    expect(circuitState('2026-05-01T11:00:00.000Z', NOW)).toBe('half_open');
  });
});

describe('when the circuit opens, and for how long', () => {
  it.each([
    [1, 0, undefined],
    [4, 10 * MINUTE, undefined],
    [5, 0, 30_000],
    [5, 30_000, 30_000],
    [6, 4 * MINUTE, 2 * MINUTE],
    [50, 19 * MINUTE, 9.5 * MINUTE],
    [500, 3 * 24 * 60 * MINUTE, 10 * MINUTE],
  ])('%i failures in a row over %i ms: open for %s ms', (failures, outageMs, cooldownMs) => {
    const until = openUntil(failures, ago(outageMs), NOW, DEFAULT_CIRCUIT_POLICY);

    expect(until === undefined ? undefined : until.getTime() - NOW.getTime()).toBe(cooldownMs);
  });
});

describe('held deliveries', () => {
  it('come back after the cooldown, spread over one base cooldown', () => {
    const until = new Date(NOW.getTime() + MINUTE);

    expect(heldUntil(until, DEFAULT_CIRCUIT_POLICY, () => 0)).toEqual(until);
    expect(heldUntil(until, DEFAULT_CIRCUIT_POLICY, () => 0.999_999).getTime()).toBe(
      until.getTime() + 29_999,
    );
  });
});

describe('isSlowAnswer', () => {
  it('calls an answer slow past half the request timeout', () => {
    expect(isSlowAnswer(5_000, 10_000, DEFAULT_CIRCUIT_POLICY)).toBe(false);
    expect(isSlowAnswer(5_001, 10_000, DEFAULT_CIRCUIT_POLICY)).toBe(true);
    expect(isSlowAnswer(120, 10_000, DEFAULT_CIRCUIT_POLICY)).toBe(false);
  });
});
