import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeOrderSchema } from '#functions/orders/order.ts';
import { unsafeCharacterIn } from '#shared/text.ts';

const order = {
  customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
  items: [{ sku: 'BEAN-1', quantity: 1 }],
  currency: 'EUR',
  paymentToken: 'tok_ok',
};

const withName = (name: string) => ({ ...order, customer: { ...order.customer, name } });

function nameIssues(name: string) {
  const parsed = placeOrderSchema.safeParse(withName(name));
  return parsed.success
    ? []
    : parsed.error.issues.filter((issue) => issue.path.join('.') === 'customer.name');
}

const codePoints = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, offset) => String.fromCodePoint(from + offset));

/** Every character the rule refuses, by family. */
const REFUSED = [
  ...codePoints(0x00, 0x1f), // C0 controls, tab and newlines included
  '\u007F', // DEL
  ...codePoints(0x80, 0x9f), // C1 controls (NEL, CSI …)
  '\u061C', // ARABIC LETTER MARK
  '\u200E', // LRM
  '\u200F', // RLM
  '\u2028', // LINE SEPARATOR
  '\u2029', // PARAGRAPH SEPARATOR
  ...codePoints(0x202a, 0x202e), // LRE, RLE, PDF, LRO, RLO
  ...codePoints(0x2066, 0x2069), // LRI, RLI, FSI, PDI
  '\uD800', // an unpaired high surrogate
  '\uDFFF', // an unpaired low surrogate
];

const refusedChar = fc.constantFrom(...REFUSED);
/** Printable text of any script (graphemes, emoji sequences with their joiners) that holds no refused character. */
const safeText = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
  .filter((text) => unsafeCharacterIn(text) === undefined && text.trim().length > 0);

describe('customer.name refuses control and bidirectional formatting characters (they go into customer mail)', () => {
  it.each(
    REFUSED.map((char) => [
      `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
      char,
    ]),
  )('%s inside a name', (code, char) => {
    const issues = nameIssues(`Ada${char}Lovelace`);

    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toBe(
      `must not contain control or bidirectional formatting characters (${code} at position 3)`,
    );
  });

  it('property: a refused character anywhere between printable text is refused, naming customer.name', () => {
    fc.assert(
      fc.property(safeText, refusedChar, safeText, (before, char, after) => {
        const issues = nameIssues(`${before}${char}${after}`);
        expect(issues.map((issue) => issue.message)).toContainEqual(
          expect.stringMatching(
            /^must not contain control or bidirectional formatting characters \(U\+[0-9A-F]{4,}/,
          ),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('property: printable names of any script, emoji sequences with joiners included, are accepted', () => {
    fc.assert(
      fc.property(
        safeText.filter((text) => text.trim().length <= 200),
        (name) => {
          expect(nameIssues(name)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    ['a Persian name with a zero-width non-joiner', 'می\u200Cخواهم'],
    ['a family emoji (zero-width joiners)', '👩\u200D👩\u200D👧'],
    ['accents and apostrophes', "Zoë O'Brien-Łukasiewicz"],
    ['leading and trailing newlines, which trimming removes', '\nAda\r\n'],
  ])('accepts %s', (_name, name) => {
    expect(nameIssues(name)).toEqual([]);
  });

  it('an e-mail address with a control or bidi character is refused as well', () => {
    for (const email of ['ada\n@example.com', 'ada@exam\u202Eple.com', 'ada@example.com\r\nBcc: x@y.z']) {
      const parsed = placeOrderSchema.safeParse({ ...order, customer: { ...order.customer, email } });
      expect(parsed.success, email).toBe(false);
    }
  });
});
