/**
 * Personal data out of what operators see: message payloads and order items carry the customer's e-mail address and
 * name. Operators need to recognise a message (which order, which customer id), not to read the address, so e-mail
 * addresses keep their first letter and domain (`a***@example.com`) and names become `[redacted]`.
 */

const EMAIL = /^([^@\s])[^@\s]*(@[^@\s]+)$/;
const PERSONAL_KEYS = /^(name|firstName|lastName|fullName|phone|address|street)$/i;

export function maskEmail(value: string): string {
  const match = EMAIL.exec(value);
  return match ? `${match[1]}***${match[2]}` : '[redacted]';
}

/** A deep copy with e-mail fields masked and personal fields inside `customer` objects redacted. */
export function redact(value: unknown, inCustomer = false): unknown {
  if (Array.isArray(value)) return value.map((item) => redact(item, inCustomer));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => {
      if (/^(email|to|e-mail)$/i.test(key) && typeof field === 'string') return [key, maskEmail(field)];
      if (inCustomer && PERSONAL_KEYS.test(key) && typeof field === 'string') return [key, '[redacted]'];
      return [key, redact(field, inCustomer || key === 'customer')];
    }),
  );
}

/** Redacts a JSON string's content; a body that is not JSON is only scanned for e-mail addresses. */
export function redactText(text: string): string {
  try {
    return JSON.stringify(redact(JSON.parse(text)));
  } catch {
    return text.replace(/[^@\s"']+@[^@\s"']+/g, maskEmail);
  }
}
