import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { businessDateWindows, previousBusinessDate } from '#functions/settlement/business-date.ts';
import {
  csvField,
  encodeFile,
  encodeRecord,
  formatTotals,
  type SettlementLine,
} from '#functions/settlement/format.ts';
import { HostKeyMismatch, hostKeyFingerprint, pinnedHostKey } from '#functions/settlement/host-key.ts';

const line = (over: Partial<SettlementLine> = {}): SettlementLine => ({
  orderId: 'o-1',
  clientId: 'alice',
  status: 'CONFIRMED',
  amount: 1250,
  currency: 'EUR',
  paymentRef: 'ch_1',
  completedAt: '2026-12-01T10:00:00.000Z',
  ...over,
});
const header = { date: '2026-12-01', partner: 'acquirer', timeZone: 'UTC' };

describe('CSV (RFC 4180)', () => {
  it('leaves a plain field alone and quotes one with a comma, a quote, CR or LF', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
  });

  it('ends every record in CRLF and quotes inside a record', () => {
    expect(
      encodeRecord('csv', [
        ['a', 'x,y'],
        ['b', '1'],
      ]),
    ).toBe('"x,y",1\r\n');
  });
});

describe('name=value lines', () => {
  it('writes one field a line, a blank line after the record, and escapes line breaks and backslashes', () => {
    expect(
      encodeRecord('kv', [
        ['note', 'a\nb\\c'],
        ['n', '1'],
      ]),
    ).toBe('note=a\\nb\\\\c\nn=1\n\n');
  });
});

describe('JSON Lines', () => {
  it('writes one object a line with the fields in file order', () => {
    expect(
      encodeRecord('jsonl', [
        ['b', '1'],
        ['a', 'x"y'],
      ]),
    ).toBe('{"b":"1","a":"x\\"y"}\n');
  });
});

describe('header, details and trailer', () => {
  it('counts every record, totals the confirmed amounts per currency and hashes the detail bytes', () => {
    const lines = [
      line(),
      line({ orderId: 'o-2', amount: 300, currency: 'USD' }),
      line({ orderId: 'o-3', amount: 50 }),
      line({ orderId: 'o-4', status: 'CANCELLED', amount: 999, failureReason: 'PAYMENT_DECLINED' }),
    ];
    const file = encodeFile('csv', header, lines);
    const rows = file.split('\r\n');
    expect(rows[0]).toBe('H,1,2026-12-01,acquirer,UTC');
    expect(rows[1]).toBe('D,o-1,alice,CONFIRMED,1250,EUR,ch_1,,2026-12-01T10:00:00.000Z');
    const details = `${rows.slice(1, 5).join('\r\n')}\r\n`;
    const sha = createHash('sha256').update(details).digest('hex');
    expect(rows[5]).toBe(`T,4,EUR:1300 USD:300,sha256:${sha}`);
    expect(rows[6]).toBe('');
  });

  it('writes an empty day as a header and a trailer with no totals', () => {
    const empty = createHash('sha256').update('').digest('hex');
    expect(encodeFile('jsonl', header, []).split('\n')[1]).toBe(
      `{"record_type":"T","record_count":"0","totals":"","checksum":"sha256:${empty}"}`,
    );
  });

  it('is the same bytes for the same lines', () => {
    expect(encodeFile('kv', header, [line()])).toBe(encodeFile('kv', header, [line()]));
    expect(formatTotals({ USD: 1, EUR: 2 })).toBe('EUR:2 USD:1');
  });
});

describe('business date', () => {
  it('spans two UTC days for a time zone east of UTC, one for UTC', () => {
    expect(businessDateWindows('2026-12-01', 'UTC')).toEqual([
      { day: '2026-12-01', from: '2026-12-01T00:00:00.000Z', to: '2026-12-02T00:00:00.000Z' },
    ]);
    expect(businessDateWindows('2026-12-01', 'Europe/Paris')).toEqual([
      { day: '2026-11-30', from: '2026-11-30T23:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
      { day: '2026-12-01', from: '2026-12-01T00:00:00.000Z', to: '2026-12-01T23:00:00.000Z' },
    ]);
  });

  it('exports the day before the scheduled time, in the time zone', () => {
    expect(previousBusinessDate(Date.parse('2026-12-02T00:30:00Z'), 'UTC')).toBe('2026-12-01');
    // 23:30 UTC on the 1st is already the 2nd in Paris.
    expect(previousBusinessDate(Date.parse('2026-12-01T23:30:00Z'), 'Europe/Paris')).toBe('2026-12-01');
  });
});

describe('pinned host key', () => {
  const keyBlob = (): Buffer => {
    const { publicKey } = generateKeyPairSync('ed25519');
    return publicKey.export({ type: 'spki', format: 'der' });
  };

  it('accepts the pinned key, written with or without the prefix case or padding', () => {
    const key = keyBlob();
    const pin = hostKeyFingerprint(key);
    expect(pin).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(pinnedHostKey(pin, 'h').verify(key)).toBe(true);
    expect(pinnedHostKey(`sha256:${pin.slice(7)}=`, 'h').verify(key)).toBe(true);
  });

  it('refuses another key and names both fingerprints', () => {
    const check = pinnedHostKey(hostKeyFingerprint(keyBlob()), 'sftp.partner:22');
    const other = keyBlob();
    expect(check.verify(other)).toBe(false);
    const error = check.mismatch();
    expect(error).toBeInstanceOf(HostKeyMismatch);
    expect(error?.name).toBe('HostKeyMismatch');
    expect(error?.message).toContain(hostKeyFingerprint(other));
    expect(error?.message).toContain('sftp.partner:22');
  });
});
