/**
 * The part of zod the functions use. `import { z } from 'zod'` pulls the whole library into every bundle
 * (~450 KB minified, every locale included) because `z` is one object; importing this module as a
 * namespace lets esbuild keep only what is used (~90 KB), which is cold-start time on every function.
 */

export type { infer, ZodError, ZodType } from 'zod';
export {
  array,
  boolean,
  coerce,
  discriminatedUnion,
  email,
  enum,
  iso,
  literal,
  looseObject,
  NEVER,
  number,
  object,
  record,
  strictObject,
  string,
  toJSONSchema,
  union,
  unknown,
  url,
  uuid,
} from 'zod';
