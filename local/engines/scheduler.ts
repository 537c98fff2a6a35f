/**
 * Time-based triggers of the template: `AWS::Scheduler::Schedule` resources and `AWS::Events::Rule`s with a
 * `ScheduleExpression` (registered by the bus engine as jobs). Supports `rate(...)`, `cron(...)` (the six-field
 * AWS syntax with `?`, `L`, `W` and `#`) and one-time `at(...)` expressions, evaluated in UTC.
 *
 * Locally nobody waits five minutes for `rate(5 minutes)`: `timeScale` divides every wait (60 turns minutes
 * into seconds) and `intervalOverrideMs` makes every `rate()` job fire at that fixed interval instead. A `cron()` job
 * names a time of day (the daily settlement export at 01:30) and keeps it: at a fixed interval it would run a day's
 * job every few seconds; `fireNow` (or the job's own CLI command) runs it on demand.
 * `fireNow(name)` fires a job at once, for tests and the operator CLI.
 *
 * With a `stateFile` (`--persist`) the scheduler remembers, per job, when it last fired and since when it has known
 * the job, so a restart keeps the schedule's rhythm: a recurring job fires at its next slot after the last firing (not
 * a whole period after the start), a slot missed while the runtime was down fires once at start, and a one-time
 * `at()` schedule that came due while the runtime was down fires once at start and never again. Compressed time
 * (`timeScale`, `intervalOverrideMs`) has no persistent meaning and keeps the in-memory behaviour.
 */
import { randomUUID } from 'node:crypto';
import type { LocalAccount, RuntimeLogger } from '../types.ts';
import { DEFAULT_ACCOUNT, silentLogger } from '../types.ts';
import type { RetryPolicy, TargetDispatcher } from './eventbridge/targets.ts';
import { targetTypeOf } from './eventbridge/targets.ts';
import type { JsonStateFile } from './state-file.ts';

export class InvalidScheduleExpressionError extends Error {
  override name = 'InvalidScheduleExpressionError';
}

export class UnknownScheduleError extends Error {
  override name = 'UnknownScheduleError';
}

export interface ScheduleJob {
  /** Unique among jobs; what `fireNow` takes. */
  name: string;
  arn: string;
  expression: string;
  enabled: boolean;
  startDate?: Date;
  endDate?: Date;
  /** `FlexibleTimeWindow.MaximumWindowInMinutes` when the mode is FLEXIBLE: fire at a random time within it. */
  flexibleWindowMinutes?: number;
  fire(scheduledTime: Date): Promise<void> | void;
}

/** Resolved properties of `AWS::Scheduler::Schedule`. */
export interface ScheduleProperties {
  Name?: string;
  GroupName?: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  State?: string;
  StartDate?: string;
  EndDate?: string;
  FlexibleTimeWindow?: { Mode: string; MaximumWindowInMinutes?: number };
  Target: {
    Arn: string;
    RoleArn?: string;
    Input?: string;
    RetryPolicy?: RetryPolicy;
    DeadLetterConfig?: { Arn?: string };
    SqsParameters?: { MessageGroupId?: string };
    EventBridgeParameters?: { DetailType: string; Source: string };
  };
}

export interface SchedulerOptions {
  /** Delivers schedule targets (with their retry policy and DLQ). */
  dispatcher: TargetDispatcher;
  account?: LocalAccount;
  logger?: RuntimeLogger;
  /** Divides every wait: 60 makes `rate(1 minute)` fire every second. Default 1. */
  timeScale?: number;
  /** When set, `rate()` jobs fire at this fixed interval instead of their expression (`cron()` jobs keep theirs). */
  intervalOverrideMs?: number;
  /** Where the jobs' firings are kept across restarts (`--persist`). */
  stateFile?: JsonStateFile<PersistedSchedules>;
}

/** Per job name: when it last fired (scheduled time, epoch ms), how often, and since when the scheduler knows it. */
export type PersistedSchedules = Record<
  string,
  { lastScheduledAt?: number; fired: number; knownSince: number }
>;

export interface ScheduledJobInfo {
  name: string;
  arn: string;
  expression: string;
  enabled: boolean;
  fired: number;
  nextFireAt?: Date;
}

type Expression =
  | { kind: 'rate'; everyMs: number }
  | { kind: 'cron'; cron: CronSchedule }
  | { kind: 'at'; at: number };

interface JobState {
  job: ScheduleJob;
  expression: Expression;
  /** Scheduled (virtual) time of the last firing: cron/rate successors are computed from it, not the wall clock. */
  cursor: number;
  timer?: NodeJS.Timeout;
  nextFireAt?: number;
  fired: number;
}

// setTimeout cannot wait longer than 2^31-1 ms; longer waits are chained.
const MAX_TIMER_MS = 2_147_483_647;

export class Scheduler {
  private readonly dispatcher: TargetDispatcher;
  private readonly account: LocalAccount;
  private readonly logger: RuntimeLogger;
  private readonly timeScale: number;
  private readonly intervalOverrideMs: number | undefined;
  private readonly jobs = new Map<string, JobState>();
  private running = false;
  private readonly stateFile: JsonStateFile<PersistedSchedules> | undefined;
  private readonly persisted: PersistedSchedules;

  constructor(options: SchedulerOptions) {
    this.dispatcher = options.dispatcher;
    this.account = options.account ?? DEFAULT_ACCOUNT;
    this.logger = options.logger ?? silentLogger;
    this.timeScale = options.timeScale && options.timeScale > 0 ? options.timeScale : 1;
    this.intervalOverrideMs = options.intervalOverrideMs;
    this.stateFile = options.stateFile;
    this.persisted = this.stateFile?.read() ?? {};
  }

  /** Persisted firings mean something only on the real clock. */
  private get persistent(): boolean {
    return this.stateFile !== undefined && this.timeScale === 1 && this.intervalOverrideMs === undefined;
  }

  private persist(state: JobState, scheduledAt?: number): void {
    if (!this.persistent || !this.stateFile) return;
    const saved = this.persisted[state.job.name];
    this.persisted[state.job.name] = {
      ...saved,
      ...(scheduledAt === undefined ? {} : { lastScheduledAt: scheduledAt }),
      fired: (saved?.fired ?? 0) + (scheduledAt === undefined ? 0 : 1),
      knownSince: saved?.knownSince ?? Date.now(),
    };
    this.stateFile.save(() => this.persisted);
  }

  /** Writes the jobs' firings now (on stop). */
  async flush(): Promise<void> {
    await this.stateFile?.flush();
  }

  /** Adds (or replaces) a job; throws `InvalidScheduleExpressionError` for an expression AWS would reject. */
  addJob(job: ScheduleJob): void {
    const expression = parseScheduleExpression(job.expression);
    this.removeJob(job.name);
    const state: JobState = { job, expression, cursor: Date.now(), fired: 0 };
    this.jobs.set(job.name, state);
    if (!this.persisted[job.name]) this.persist(state);
    if (this.running) this.arm(state);
  }

  removeJob(name: string): void {
    const existing = this.jobs.get(name);
    if (existing) clearTimeout(existing.timer);
    this.jobs.delete(name);
  }

  /** Registers an `AWS::Scheduler::Schedule`; its name defaults to `defaultName` (the runtime's naming rule). */
  registerSchedule(props: ScheduleProperties, defaultName?: string): { name: string; arn: string } {
    const name = props.Name ?? defaultName ?? `schedule-${randomUUID()}`;
    const group = props.GroupName ?? 'default';
    const { region, accountId } = this.account;
    const arn = `arn:aws:scheduler:${region}:${accountId}:schedule/${group}/${name}`;
    if (
      props.ScheduleExpressionTimezone &&
      !['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT'].includes(props.ScheduleExpressionTimezone)
    ) {
      this.logger.warn('scheduler: time zones are not supported locally; evaluating in UTC', {
        schedule: name,
        timezone: props.ScheduleExpressionTimezone,
      });
    }
    const target = props.Target;
    if (!targetTypeOf(target.Arn)) {
      this.logger.warn('scheduler: target type is not supported locally', {
        schedule: name,
        target: target.Arn,
      });
    }
    const flexible = props.FlexibleTimeWindow?.Mode === 'FLEXIBLE';
    this.addJob({
      name,
      arn,
      expression: props.ScheduleExpression,
      enabled: (props.State ?? 'ENABLED') === 'ENABLED',
      startDate: props.StartDate ? new Date(props.StartDate) : undefined,
      endDate: props.EndDate ? new Date(props.EndDate) : undefined,
      flexibleWindowMinutes: flexible ? props.FlexibleTimeWindow?.MaximumWindowInMinutes : undefined,
      fire: (scheduledTime) => this.deliverScheduleTarget(props, { name, group, arn }, scheduledTime),
    });
    return { name, arn };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const state of this.jobs.values()) {
      // Recurring jobs count from now: no burst of catch-up firings for the time before start().
      state.cursor = Date.now();
      if (this.persistent) this.resume(state);
      this.arm(state);
    }
  }

  /** Picks a job up where the last run on this state left it (see the module comment). */
  private resume(state: JobState): void {
    const saved = this.persisted[state.job.name];
    const now = Date.now();
    if (!saved) return;
    const { expression } = state;
    if (expression.kind === 'at') {
      state.fired = saved.fired;
      if (
        saved.fired === 0 &&
        expression.at < now &&
        expression.at >= saved.knownSince &&
        state.job.enabled
      ) {
        this.logger.info(
          'scheduler: a one-time schedule came due while the runtime was down; firing it now',
          {
            job: state.job.name,
          },
        );
        void this.fire(state, new Date(expression.at));
      }
      return;
    }
    const last = saved.lastScheduledAt ?? saved.knownSince;
    const next = expression.kind === 'rate' ? last + expression.everyMs : expression.cron.nextAfter(last);
    if (next === undefined) return;
    if (next > now) {
      state.cursor = last;
      return;
    }
    if (!state.job.enabled) return;
    this.logger.info('scheduler: a firing came due while the runtime was down; firing it now', {
      job: state.job.name,
    });
    void this.fire(state, new Date(next));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const state of this.jobs.values()) {
      clearTimeout(state.timer);
      state.timer = undefined;
      state.nextFireAt = undefined;
    }
  }

  /** Fires a job now, whatever its expression or state (the CLI's "run this schedule"). */
  async fireNow(name: string): Promise<void> {
    const state = this.jobs.get(name);
    if (!state) throw new UnknownScheduleError(`No schedule or scheduled rule named '${name}'`);
    await this.fire(state, new Date(), false);
  }

  listJobs(): ScheduledJobInfo[] {
    return [...this.jobs.values()].map((state) => ({
      name: state.job.name,
      arn: state.job.arn,
      expression: state.job.expression,
      enabled: state.job.enabled,
      fired: state.fired,
      nextFireAt: state.nextFireAt === undefined ? undefined : new Date(state.nextFireAt),
    }));
  }

  private arm(state: JobState): void {
    clearTimeout(state.timer);
    state.timer = undefined;
    state.nextFireAt = undefined;
    if (!this.running || !state.job.enabled) return;
    const next = this.nextFiring(state);
    if (!next) return;
    const delay = Math.max(0, next.realAt - Date.now());
    state.nextFireAt = next.realAt;
    const wait = Math.min(delay, MAX_TIMER_MS);
    state.timer = setTimeout(() => {
      if (wait < delay) return this.arm(state);
      state.cursor = next.scheduledAt;
      void this.fire(state, new Date(next.scheduledAt)).finally(() => {
        if (state.expression.kind !== 'at') this.arm(state);
      });
    }, wait);
    // Schedules never keep the process alive on their own.
    state.timer.unref();
  }

  /** The next firing as (scheduled time on the job's own clock, real time to fire at), or none. */
  private nextFiring(state: JobState): { scheduledAt: number; realAt: number } | undefined {
    const { expression, job } = state;
    const now = Date.now();
    if (this.intervalOverrideMs !== undefined && expression.kind === 'rate') {
      return { scheduledAt: now + this.intervalOverrideMs, realAt: now + this.intervalOverrideMs };
    }
    let scheduledAt: number | undefined;
    if (expression.kind === 'rate') scheduledAt = state.cursor + expression.everyMs;
    else if (expression.kind === 'cron') scheduledAt = expression.cron.nextAfter(state.cursor);
    else if (state.fired === 0) scheduledAt = expression.at;
    if (scheduledAt === undefined) return undefined;
    if (job.startDate && scheduledAt < job.startDate.getTime()) {
      state.cursor = job.startDate.getTime() - 1;
      return this.nextFiring(state);
    }
    if (job.endDate && scheduledAt > job.endDate.getTime()) return undefined;
    if (expression.kind === 'at') {
      // A one-time schedule in the past is not replayed on every start of the runtime.
      if (scheduledAt < now) return undefined;
      return { scheduledAt, realAt: now + (scheduledAt - now) / this.timeScale };
    }
    const flexMs = job.flexibleWindowMinutes ? Math.random() * job.flexibleWindowMinutes * 60_000 : 0;
    if (this.timeScale === 1) return { scheduledAt, realAt: scheduledAt + flexMs };
    // Scaled: the job's clock advances from its last firing, so successive waits are the scaled gaps.
    return { scheduledAt, realAt: now + (scheduledAt + flexMs - state.cursor) / this.timeScale };
  }

  /** `onSchedule`: a firing of the schedule itself (persisted), not one asked for by `fireNow`. */
  private async fire(state: JobState, scheduledTime: Date, onSchedule = true): Promise<void> {
    state.fired += 1;
    if (onSchedule) this.persist(state, scheduledTime.getTime());
    this.logger.debug('scheduler: firing', {
      job: state.job.name,
      scheduledTime: scheduledTime.toISOString(),
    });
    try {
      await state.job.fire(scheduledTime);
    } catch (error) {
      this.logger.error('scheduler: job failed', { job: state.job.name, error: String(error) });
    }
  }

  private deliverScheduleTarget(
    props: ScheduleProperties,
    schedule: { name: string; group: string; arn: string },
    scheduledTime: Date,
  ): void {
    const target = props.Target;
    const executionId = randomUUID();
    const input = substituteContext(target.Input ?? '{}', {
      'aws.scheduler.schedule-arn': schedule.arn,
      'aws.scheduler.scheduled-time': isoSeconds(scheduledTime),
      'aws.scheduler.execution-id': executionId,
      'aws.scheduler.attempt-number': '1',
    });
    let payload = input;
    if (targetTypeOf(target.Arn) === 'event-bus') {
      // A bus target receives an event built from EventBridgeParameters with the Input as its detail.
      payload = JSON.stringify({
        version: '0',
        id: executionId,
        'detail-type': target.EventBridgeParameters?.DetailType ?? 'Scheduled Event',
        source: target.EventBridgeParameters?.Source ?? 'aws.scheduler',
        account: this.account.accountId,
        time: isoSeconds(scheduledTime),
        region: this.account.region,
        resources: [schedule.arn],
        detail: safeJson(input),
      });
    }
    this.dispatcher.dispatch(
      {
        arn: target.Arn,
        messageGroupId: target.SqsParameters?.MessageGroupId,
        retryPolicy: target.RetryPolicy,
        deadLetterArn: target.DeadLetterConfig?.Arn,
      },
      {
        payload,
        deadLetterBody: payload,
        eventTime: Date.now(),
        deduplicationId: executionId,
        deadLetterAttributes: {
          'X-Amz-Scheduler-Schedule-Arn': schedule.arn,
          'X-Amz-Scheduler-Group': schedule.group,
          'X-Amz-Scheduler-Attempt': '1',
        },
        source: `schedule ${schedule.group}/${schedule.name}`,
      },
    );
  }
}

export function parseScheduleExpression(expression: string): Expression {
  const match = /^(rate|cron|at)\((.*)\)$/.exec(expression.trim());
  if (!match) throw new InvalidScheduleExpressionError(`Invalid schedule expression '${expression}'`);
  const [, kind, body = ''] = match;
  if (kind === 'rate') return { kind: 'rate', everyMs: parseRate(body, expression) };
  if (kind === 'cron') return { kind: 'cron', cron: new CronSchedule(body) };
  const at = Date.parse(`${body}Z`);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(body) || Number.isNaN(at)) {
    throw new InvalidScheduleExpressionError(
      `Invalid at() expression '${expression}': use at(yyyy-mm-ddThh:mm:ss)`,
    );
  }
  return { kind: 'at', at };
}

const RATE_UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

function parseRate(body: string, expression: string): number {
  const match = /^(\d+)\s+(minute|minutes|hour|hours|day|days)$/.exec(body.trim());
  const value = Number(match?.[1]);
  const unit = match?.[2]?.replace(/s$/, '') ?? '';
  if (!match || !Number.isInteger(value) || value < 1 || !RATE_UNITS[unit]) {
    throw new InvalidScheduleExpressionError(`Invalid rate() expression '${expression}'`);
  }
  return value * (RATE_UNITS[unit] ?? 0);
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const DAY_MS = 86_400_000;
const MAX_SEARCH_DAYS = 366 * 30;

/**
 * The AWS cron syntax: `Minutes Hours Day-of-month Month Day-of-week Year`, day-of-week 1-7 = SUN-SAT,
 * exactly one of the day fields must be `?`.
 */
export class CronSchedule {
  private readonly minutes: Set<number>;
  private readonly hours: Set<number>;
  private readonly months: Set<number>;
  private readonly years: Set<number>;
  private readonly dayOfMonth: (year: number, month: number, day: number) => boolean;
  private readonly dayOfWeek: (year: number, month: number, day: number) => boolean;

  constructor(body: string) {
    const fields = body.trim().split(/\s+/);
    if (fields.length !== 6) {
      throw new InvalidScheduleExpressionError(
        `cron(${body}) must have 6 fields: min hour day-of-month month day-of-week year`,
      );
    }
    const [minutes = '', hours = '', dom = '', month = '', dow = '', year = ''] = fields;
    if ((dom === '?') === (dow === '?')) {
      throw new InvalidScheduleExpressionError(
        `cron(${body}): exactly one of day-of-month and day-of-week must be '?'`,
      );
    }
    this.minutes = parseField(minutes, 0, 59, body);
    this.hours = parseField(hours, 0, 23, body);
    this.months = parseField(month, 1, 12, body, MONTHS);
    this.years = parseField(year, 1970, 2199, body);
    this.dayOfMonth = dom === '?' ? () => true : parseDayOfMonth(dom, body);
    this.dayOfWeek = dow === '?' ? () => true : parseDayOfWeek(dow, body);
  }

  /** First matching minute strictly after `after` (epoch ms), or undefined when none within 30 years. */
  nextAfter(after: number): number | undefined {
    const start = Math.floor(after / 60_000) * 60_000 + 60_000;
    const startDay = Math.floor(start / DAY_MS) * DAY_MS;
    for (let dayStart = startDay, i = 0; i < MAX_SEARCH_DAYS; dayStart += DAY_MS, i++) {
      const date = new Date(dayStart);
      const year = date.getUTCFullYear();
      const month = date.getUTCMonth() + 1;
      const day = date.getUTCDate();
      if (!this.years.has(year) || !this.months.has(month)) continue;
      if (!this.dayOfMonth(year, month, day) || !this.dayOfWeek(year, month, day)) continue;
      for (const hour of sorted(this.hours)) {
        for (const minute of sorted(this.minutes)) {
          const candidate = dayStart + hour * 3_600_000 + minute * 60_000;
          if (candidate >= start) return candidate;
        }
      }
    }
    return undefined;
  }
}

function parseField(
  field: string,
  min: number,
  max: number,
  body: string,
  names: string[] = [],
): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw invalidField(field, body);
    let from: number;
    let to: number;
    if (range === '*') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = parseValue(a, names, field, body);
      to = parseValue(b, names, field, body);
    } else {
      from = parseValue(range, names, field, body);
      to = stepText === undefined ? from : max;
    }
    if (from < min || to > max || from > to) throw invalidField(field, body);
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

function parseValue(text: string, names: string[], field: string, body: string): number {
  const named = names.indexOf(text.toUpperCase());
  if (named >= 0) return named + 1;
  const value = Number(text);
  if (text === '' || !Number.isInteger(value)) throw invalidField(field, body);
  return value;
}

function parseDayOfMonth(field: string, body: string): (year: number, month: number, day: number) => boolean {
  if (field === 'L') return (year, month, day) => day === daysIn(year, month);
  if (field === 'LW') return (year, month, day) => day === lastWeekday(year, month);
  const nearest = /^(\d+)W$/.exec(field);
  if (nearest) {
    const target = Number(nearest[1]);
    if (target < 1 || target > 31) throw invalidField(field, body);
    return (year, month, day) => day === nearestWeekday(year, month, target);
  }
  const days = parseField(field, 1, 31, body);
  return (_year, _month, day) => days.has(day);
}

function parseDayOfWeek(field: string, body: string): (year: number, month: number, day: number) => boolean {
  const nth = /^(\w+)#([1-5])$/.exec(field);
  if (nth) {
    const weekday = parseValue(nth[1] ?? '', WEEKDAYS, field, body);
    const occurrence = Number(nth[2]);
    return (year, month, day) => weekdayOf(year, month, day) === weekday && Math.ceil(day / 7) === occurrence;
  }
  const last = /^(\w+)L$/.exec(field);
  if (last) {
    const weekday = parseValue(last[1] ?? '', WEEKDAYS, field, body);
    return (year, month, day) => weekdayOf(year, month, day) === weekday && day + 7 > daysIn(year, month);
  }
  if (field === 'L') return (year, month, day) => weekdayOf(year, month, day) === 7;
  const weekdays = parseField(field, 1, 7, body, WEEKDAYS);
  return (year, month, day) => weekdays.has(weekdayOf(year, month, day));
}

/** 1 = Sunday … 7 = Saturday, as AWS cron numbers them. */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function lastWeekday(year: number, month: number): number {
  let day = daysIn(year, month);
  while (isWeekend(year, month, day)) day -= 1;
  return day;
}

/** `15W`: the weekday nearest the 15th, never crossing into another month. */
function nearestWeekday(year: number, month: number, target: number): number {
  const last = daysIn(year, month);
  const day = Math.min(target, last);
  if (!isWeekend(year, month, day)) return day;
  const weekday = weekdayOf(year, month, day);
  if (weekday === 7) return day === 1 ? 3 : day - 1; // Saturday → Friday, or Monday when the 1st
  return day === last ? day - 2 : day + 1; // Sunday → Monday, or Friday when the last day
}

function isWeekend(year: number, month: number, day: number): boolean {
  const weekday = weekdayOf(year, month, day);
  return weekday === 1 || weekday === 7;
}

function invalidField(field: string, body: string): InvalidScheduleExpressionError {
  return new InvalidScheduleExpressionError(`cron(${body}): invalid field '${field}'`);
}

const sortedCache = new WeakMap<Set<number>, number[]>();

function sorted(values: Set<number>): number[] {
  let list = sortedCache.get(values);
  if (!list) {
    list = [...values].sort((a, b) => a - b);
    sortedCache.set(values, list);
  }
  return list;
}

function substituteContext(input: string, values: Record<string, string>): string {
  return input.replace(
    /<(aws\.scheduler\.[a-z-]+)>/g,
    (placeholder, key: string) => values[key] ?? placeholder,
  );
}

/** EventBridge times carry no milliseconds: `2024-05-01T12:00:00Z`. */
export function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
