/**
 * Currencies the shop accepts, with their ISO 4217 minor-unit exponent. Amounts are stored in minor
 * units (integers), so the exponent is needed wherever an amount meets a human or a whole-unit rule.
 */
export const CURRENCY_EXPONENTS = {
  AUD: 2,
  BHD: 3,
  CAD: 2,
  CHF: 2,
  CZK: 2,
  DKK: 2,
  EUR: 2,
  GBP: 2,
  JPY: 0,
  KWD: 3,
  NOK: 2,
  NZD: 2,
  PLN: 2,
  SEK: 2,
  USD: 2,
} as const;

export type Currency = keyof typeof CURRENCY_EXPONENTS;

export const SUPPORTED_CURRENCIES = Object.keys(CURRENCY_EXPONENTS) as Currency[];

export function isSupportedCurrency(code: string): code is Currency {
  return Object.hasOwn(CURRENCY_EXPONENTS, code);
}

export function formatAmount(amountMinor: number, currency: Currency): string {
  const exponent = CURRENCY_EXPONENTS[currency];
  return new Intl.NumberFormat('en', { style: 'currency', currency }).format(amountMinor / 10 ** exponent);
}
