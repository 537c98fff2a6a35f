/**
 * The `Prefer` request header (RFC 7240, https://www.rfc-editor.org/rfc/rfc7240):
 *
 *   Prefer     = 1#preference
 *   preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
 *   parameter  = token [ BWS "=" BWS word ]
 *   word       = token / quoted-string
 *
 * A preference is a hint, never a demand: the RFC has servers ignore what they do not understand or cannot parse
 * without signalling an error, so nothing here throws. A malformed element is dropped on its own and the others
 * still count.
 */

export interface PreferenceParameter {
  /** Lower-cased: names are case-insensitive (RFC 7240 §2). */
  readonly name: string;
  /** Unquoted; undefined when absent or empty (§2: an empty value is the same as none). */
  readonly value: string | undefined;
}

export interface Preference extends PreferenceParameter {
  readonly parameters: readonly PreferenceParameter[];
}

/** RFC 9110 `tchar`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 `quoted-string`: qdtext (HTAB, SP, VCHAR but `"` and `\`, obs-text) or quoted pairs. */
const QUOTED_STRING = /^"((?:[\t \x21\x23-\x5B\x5D-\x7E\x80-\xFF]|\\[\t \x21-\x7E\x80-\xFF])*)"$/;
const isWhitespace = (char: string | undefined) => char === ' ' || char === '\t';

/**
 * Strips OWS / BWS (spaces and horizontal tabs, not what `String.trim` strips). A loop, not `/[ \t]+$/`: that
 * pattern retries every run of blanks inside the text, quadratic in a header of blanks.
 */
function trim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWhitespace(text[start])) start++;
  while (end > start && isWhitespace(text[end - 1])) end--;
  return text.slice(start, end);
}

/**
 * Splits at `separator` where it is not inside a quoted string. An unterminated quote swallows the rest of the
 * text into the last part, which then fails to parse: the quote's extent is unknowable, so nothing after it is
 * trusted.
 */
function splitOutsideQuotes(text: string, separator: ',' | ';'): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '\\') i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') {
      quoted = true;
    } else if (char === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** `token [ BWS "=" BWS word ]`, or undefined when it is not that. */
function nameAndValue(text: string): PreferenceParameter | undefined {
  const equals = text.indexOf('=');
  const name = trim(equals === -1 ? text : text.slice(0, equals));
  if (!TOKEN.test(name)) return undefined;
  if (equals === -1) return { name: name.toLowerCase(), value: undefined };
  const raw = trim(text.slice(equals + 1));
  let value: string;
  if (raw === '' || TOKEN.test(raw)) {
    value = raw;
  } else {
    const quoted = QUOTED_STRING.exec(raw);
    if (!quoted) return undefined;
    value = (quoted[1] ?? '').replace(/\\(.)/g, '$1');
  }
  return { name: name.toLowerCase(), value: value === '' ? undefined : value };
}

function parsePreference(element: string): Preference | undefined {
  const [head = '', ...rest] = splitOutsideQuotes(element, ';');
  const preference = nameAndValue(head);
  if (!preference) return undefined;
  const parameters: PreferenceParameter[] = [];
  for (const part of rest) {
    // `*( OWS ";" [ OWS parameter ] )`: a parameter may be left out, so `a;;b` and a trailing `;` are fine.
    if (trim(part) === '') continue;
    const parameter = nameAndValue(part);
    if (!parameter) return undefined;
    parameters.push(parameter);
  }
  return { ...preference, parameters };
}

/**
 * The preferences of a `Prefer` header by lower-cased name. Several `Prefer` headers arrive joined with commas (as
 * API Gateway and RFC 9110 §5.3 combine them), which is the same list. A preference given more than once counts
 * only the first time (§2), and empty list elements are allowed (RFC 9110 §5.6.1).
 */
export function parsePrefer(header: string | undefined): ReadonlyMap<string, Preference> {
  const preferences = new Map<string, Preference>();
  if (header === undefined) return preferences;
  for (const element of splitOutsideQuotes(header, ',')) {
    if (trim(element) === '') continue;
    const preference = parsePreference(element);
    if (preference && !preferences.has(preference.name)) preferences.set(preference.name, preference);
  }
  return preferences;
}

/** RFC 9111 `delta-seconds`: digits only, no sign, no fraction. */
const DELTA_SECONDS = /^[0-9]+$/;

/**
 * The seconds a `Prefer: wait=N` asks for (RFC 7240 §4.3), or undefined when the header has no usable `wait`
 * (absent, empty, not a non-negative whole number): an unusable preference is ignored, not refused. Huge values are
 * returned as they are (possibly Infinity); the caller caps them.
 */
export function preferredWaitSeconds(header: string | undefined): number | undefined {
  const value = parsePrefer(header).get('wait')?.value;
  if (value === undefined || !DELTA_SECONDS.test(value)) return undefined;
  return Number(value);
}
