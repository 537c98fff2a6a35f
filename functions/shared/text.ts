/**
 * Characters refused in free text that reaches a human (customer names in e-mail): control characters (C0, DEL,
 * C1) can forge lines or reach terminals and parsers downstream; bidirectional overrides, embeddings and isolates
 * (and the implicit marks LRM/RLM/ALM) can make a mail read differently from what it says ("Trojan Source",
 * CVE-2021-42574); line and paragraph separators break lines where a name is not expected to; an unpaired surrogate
 * is not text at all and turns into U+FFFD on the way out. Joiners (U+200C/U+200D) stay allowed: scripts and emoji
 * need them.
 */
const UNSAFE_TEXT = /[\p{Cc}\p{Cs}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

/** The first refused character of `text` as `U+<hex code> at position N`, or undefined when there is none. */
export function unsafeCharacterIn(text: string): string | undefined {
  const match = UNSAFE_TEXT.exec(text);
  if (!match) return undefined;
  const codePoint = match[0].codePointAt(0) ?? 0;
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} at position ${match.index}`;
}

export const UNSAFE_TEXT_MESSAGE = 'must not contain control or bidirectional formatting characters';
