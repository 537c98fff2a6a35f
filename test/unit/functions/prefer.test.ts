import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePrefer, preferredWaitSeconds } from '#shared/prefer.ts';

/** Mostly the characters the grammar cares about, so quotes, escapes and separators meet in every order. */
const headerChar = fc.oneof(
  fc.constantFrom(' ', '\t', ',', ';', '=', '"', '\\', 'w', '5'),
  // Any code point; `fc.string({ unit: 'binary' })` would do the same at a start-up cost of seconds.
  fc.integer({ min: 0, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
);

const entries = (header: string | undefined) => Object.fromEntries(parsePrefer(header));

describe('parsePrefer', () => {
  it('reads a single preference with a value', () => {
    expect(entries('wait=5')).toEqual({ wait: { name: 'wait', value: '5', parameters: [] } });
  });

  it('reads a comma-separated list, with and without values, around optional whitespace', () => {
    expect(entries(' respond-async ,\twait = 10 , handling=lenient')).toEqual({
      'respond-async': { name: 'respond-async', value: undefined, parameters: [] },
      wait: { name: 'wait', value: '10', parameters: [] },
      handling: { name: 'handling', value: 'lenient', parameters: [] },
    });
  });

  it('lower-cases names but keeps values as sent', () => {
    expect(entries('Return=Minimal; Foo=Bar')).toEqual({
      return: { name: 'return', value: 'Minimal', parameters: [{ name: 'foo', value: 'Bar' }] },
    });
  });

  it('reads parameters after `;`, skipping empty ones', () => {
    expect(entries('foo; bar="x;y" ;; baz ;')).toEqual({
      foo: {
        name: 'foo',
        value: undefined,
        parameters: [
          { name: 'bar', value: 'x;y' },
          { name: 'baz', value: undefined },
        ],
      },
    });
  });

  it('unquotes quoted values, escapes included, and keeps commas inside quotes', () => {
    expect(entries('a="1, 2", b="say \\"hi\\"", c="back\\\\slash"')).toEqual({
      a: { name: 'a', value: '1, 2', parameters: [] },
      b: { name: 'b', value: 'say "hi"', parameters: [] },
      c: { name: 'c', value: 'back\\slash', parameters: [] },
    });
  });

  it('treats an empty value, quoted or not, as no value (RFC 7240 §2)', () => {
    expect(entries('a=, b=""')).toEqual({
      a: { name: 'a', value: undefined, parameters: [] },
      b: { name: 'b', value: undefined, parameters: [] },
    });
  });

  it('counts a preference given twice only the first time, whatever its case', () => {
    expect(entries('wait=1, WAIT=2, Wait=3').wait?.value).toBe('1');
  });

  it('takes several Prefer headers joined with commas as one list', () => {
    expect([...parsePrefer('respond-async, wait=4').keys()]).toEqual(['respond-async', 'wait']);
  });

  it('allows empty list elements', () => {
    expect([...parsePrefer(' , ,wait=2,, ').keys()]).toEqual(['wait']);
  });

  it.each([
    ['no name', '=5'],
    ['a space inside the name', 'wa it=5'],
    ['a separator in the name', 'wa(it=5'],
    ['two words as a value', 'wait=5 6'],
    ['an unquoted value with a separator', 'wait=5/6'],
    ['text after a closing quote', 'wait="5"x'],
    ['a control character in a quoted value', 'wait="5\u0001"'],
    ['a malformed parameter', 'wait=5; =x'],
  ])('drops an element with %s, and only that element', (_, element) => {
    expect(entries(`${element}, handling=strict`)).toEqual({
      handling: { name: 'handling', value: 'strict', parameters: [] },
    });
  });

  it('drops everything from an unterminated quote on: where it would have ended is unknowable', () => {
    expect(entries('respond-async, wait="5, handling=strict')).toEqual({
      'respond-async': { name: 'respond-async', value: undefined, parameters: [] },
    });
  });

  it('answers nothing for no header or an empty one', () => {
    expect(parsePrefer(undefined).size).toBe(0);
    expect(parsePrefer('').size).toBe(0);
    expect(parsePrefer(' \t ').size).toBe(0);
  });

  it('never throws, whatever the header', () => {
    fc.assert(
      fc.property(fc.string({ unit: headerChar, maxLength: 200 }), (header) => {
        const parsed = parsePrefer(header);
        for (const [name, preference] of parsed) expect(preference.name).toBe(name);
      }),
    );
  });

  it('reads back every well-formed list it is given', () => {
    const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
    const word = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9.~-]{1,8}$/).map((text) => ({ sent: text, value: text })),
      fc
        .stringMatching(/^[ -~]{1,8}$/)
        .map((text) => ({ sent: `"${text.replace(/["\\]/g, '\\$&')}"`, value: text })),
    );
    const preference = fc.record({ name: token, word: fc.option(word, { nil: undefined }) });
    fc.assert(
      fc.property(
        fc.uniqueArray(preference, { selector: (p) => p.name, minLength: 1, maxLength: 5 }),
        (list) => {
          const header = list
            .map(({ name, word }) => (word === undefined ? name : `${name}=${word.sent}`))
            .join(', ');
          const parsed = parsePrefer(header);
          expect([...parsed.keys()]).toEqual(list.map((p) => p.name));
          for (const { name, word } of list) expect(parsed.get(name)?.value).toBe(word?.value);
        },
      ),
    );
  });
});

describe('preferredWaitSeconds', () => {
  it.each([
    ['wait=5', 5],
    ['wait=0', 0],
    ['WAIT = 7', 7],
    ['wait="3"', 3],
    ['wait=007', 7],
    ['respond-async, wait=12', 12],
    ['wait=5; foo=bar', 5],
    ['wait=99999999999999999999', 1e20],
  ])('reads %j as %d seconds', (header, seconds) => {
    expect(preferredWaitSeconds(header)).toBe(seconds);
  });

  it.each([
    ['no header', undefined],
    ['another preference only', 'respond-async'],
    ['no value', 'wait'],
    ['an empty value', 'wait='],
    ['a word', 'wait=abc'],
    ['a negative number', 'wait=-1'],
    ['a fraction', 'wait=1.5'],
    ['an exponent', 'wait=1e3'],
    ['a malformed element', 'wait=5 6'],
    ['a second wait after an unusable first one', 'wait=abc, wait=5'],
  ])('ignores %s', (_, header) => {
    expect(preferredWaitSeconds(header)).toBeUndefined();
  });
});
