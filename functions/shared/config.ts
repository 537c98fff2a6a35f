import * as z from '#shared/zod.ts';

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/**
 * Validates the function's environment once, at module load. A missing or malformed variable is a
 * deployment bug: failing the cold start with the exact variable named beats failing the first request.
 */
export function loadConfig<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
  throw new ConfigurationError(`Invalid function configuration: ${problems.join('; ')}`);
}

export const requiredString = (name: string) =>
  z
    .string({ error: `${name} is required` })
    .trim()
    .min(1, { error: `${name} must not be empty` });

/** An optional positive integer read from an environment string, with a default. */
export const positiveIntFromEnv = (name: string, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { error: `${name} must be a positive integer` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, { error: `${name} must be at least 1` }),
    )
    .optional()
    .transform((value) => value ?? fallback);

export const httpUrl = (name: string) =>
  z
    .url({ protocol: /^https?$/, error: `${name} must be an http(s) URL` })
    .transform((url) => url.replace(/\/+$/, ''));
