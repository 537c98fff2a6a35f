/**
 * A business date in the partner's time zone, as instants and as the UTC days of the Settled index it spans (the
 * index is keyed by the UTC day an order ended on; a local day touches at most two of them, three across no DST).
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

export function isBusinessDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** Offset of `timeZone` from UTC at `instant`, in ms (east positive). */
function offsetAt(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const local = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return local - Math.floor(instant / 1000) * 1000;
}

/** The instant local midnight of `date` happens in `timeZone`. */
export function localMidnight(date: string, timeZone: string): number {
  const guess = Date.parse(`${date}T00:00:00Z`);
  const first = guess - offsetAt(guess, timeZone);
  // Across a DST change the offset at the guess and at the answer differ: one more step settles it.
  return guess - offsetAt(first, timeZone);
}

/** The calendar date in `timeZone` at `instant`. */
export function dateIn(instant: number, timeZone: string): string {
  return new Date(instant + offsetAt(instant, timeZone)).toISOString().slice(0, 10);
}

/** The business date before the one `instant` falls on: a schedule firing on day N exports day N-1. */
export function previousBusinessDate(instant: number, timeZone: string): string {
  const today = dateIn(instant, timeZone);
  return new Date(Date.parse(`${today}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
}

/** One Query of the Settled index: a UTC day and the part of it that belongs to the business date. */
export interface IndexWindow {
  /** The UTC day (`YYYY-MM-DD`): the index partition. */
  day: string;
  /** ISO instants, `from` included, `to` excluded. */
  from: string;
  to: string;
}

export function businessDateWindows(date: string, timeZone: string): IndexWindow[] {
  const start = localMidnight(date, timeZone);
  const next = new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
  const end = localMidnight(next, timeZone);
  const windows: IndexWindow[] = [];
  for (let dayStart = Math.floor(start / DAY_MS) * DAY_MS; dayStart < end; dayStart += DAY_MS) {
    const from = Math.max(start, dayStart);
    const to = Math.min(end, dayStart + DAY_MS);
    windows.push({
      day: new Date(dayStart).toISOString().slice(0, 10),
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    });
  }
  return windows;
}
