/**
 * Personal data out of what operators see: message payloads and order items carry the customer's e-mail address and
 * name. Operators need to recognise a message (which order, which customer id), not to read the address, so e-mail
 * addresses keep their first letter and domain (`a***@example.com`) and names become `[redacted]`.
 *
 * Values come in three shapes and all are covered: plain JSON, DynamoDB typed attribute values (the relay DLQ holds
 * the raw stream record: `{"email":{"S":"…"}}`, `{"customer":{"M":{…}}}`) and JSON documents stored as strings.
 */

const REDACTED = '[redacted]';
const EMAIL = /^([^@\s])[^@\s]*(@[^@\s]+)$/;
/** An address inside free text; quotes and brackets stop it so `<ada@example.com>` keeps its brackets. */
const EMAIL_IN_TEXT = /[^@\s"'<>()[\],;]+@[^@\s"'<>()[\],;]+/g;
/** `email`, `to`, `customerEmail`, …: masked wherever they appear. */
const EMAIL_KEYS = /^(to|e-mail|\w*email)$/i;
/** Personal only inside a `customer` object: elsewhere `name` is a product's or a step's name. */
const PERSONAL_KEYS = /^(name|firstName|lastName|fullName|phone|address|street)$/i;
/** Credentials that sit next to business data (webhook signing secrets, the payment token). */
const SECRET_KEYS = /^(secrets?|signingSecret|paymentToken)$/i;
/** Webhook URLs often carry their secret in the path or query (`…/services/T0/B0/XXXX`, `?token=…`). */
const URL_KEYS = /^(url|webhookUrl)$/i;

export function maskEmail(value: string): string {
  const match = EMAIL.exec(value);
  return match ? `${match[1]}***${match[2]}` : REDACTED;
}

/** Masks every e-mail address inside free text (error messages, timeline details). */
export function maskEmailsIn(text: string): string {
  return text.replace(EMAIL_IN_TEXT, maskEmail);
}

/** Keeps the scheme and host, enough to recognise the endpoint; path, query and user info may hold its secret. */
function maskUrl(value: string): string {
  try {
    const url = new URL(value);
    return url.pathname === '/' && !url.search ? url.origin : `${url.origin}/${REDACTED}`;
  } catch {
    return REDACTED;
  }
}

/**
 * Applies `mask` to every string and number inside a sensitive key's value, whatever its shape: a plain string, a
 * list, or a typed attribute value (`{"S":…}`, `{"N":…}`, `{"SS":[…]}`, `{"L":[…]}`, `{"M":{…}}`).
 * Booleans and nulls stay: they carry no personal data and show the shape.
 */
function maskLeaves(value: unknown, mask: (text: string) => string): unknown {
  if (typeof value === 'string' || typeof value === 'number') return mask(String(value));
  if (Array.isArray(value)) return value.map((item) => maskLeaves(item, mask));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, maskLeaves(field, mask)]));
}

function redactString(text: string, inCustomer: boolean): string {
  // A JSON document kept as a string (a hand-serialised payload, a webhook body) is redacted field by field.
  if (/^\s*[[{]/.test(text)) {
    try {
      return JSON.stringify(redact(JSON.parse(text), inCustomer));
    } catch {
      // Not JSON after all: free text.
    }
  }
  return maskEmailsIn(text);
}

/**
 * A deep copy with e-mail fields masked, personal fields inside `customer` objects, secrets and webhook URLs redacted,
 * and e-mail addresses masked in any other text.
 */
export function redact(value: unknown, inCustomer = false): unknown {
  if (typeof value === 'string') return redactString(value, inCustomer);
  if (Array.isArray(value)) return value.map((item) => redact(item, inCustomer));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => {
      if (EMAIL_KEYS.test(key)) return [key, maskLeaves(field, maskEmail)];
      if (SECRET_KEYS.test(key) || (inCustomer && PERSONAL_KEYS.test(key))) {
        return [key, maskLeaves(field, () => REDACTED)];
      }
      if (URL_KEYS.test(key)) return [key, maskLeaves(field, maskUrl)];
      // Typed wrappers (`M`, `L`, `S`) are ordinary keys here, so the keys inside an `M` map are checked too.
      return [key, redact(field, inCustomer || key === 'customer')];
    }),
  );
}

/** Redacts a JSON string's content; text that is not JSON is only scanned for e-mail addresses. */
export function redactText(text: string): string {
  return redactString(text, false);
}
