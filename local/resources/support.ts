import { conditionResolver } from '#local/template/resolve.ts';
import { type CfnTemplate, DEFAULT_ACCOUNT, type LocalAccount } from '#local/types.ts';
import { IGNORED_RESOURCE_TYPES } from './ignored.ts';
import { RESOURCE_MODULES } from './index.ts';

/**
 * What the local runtime does with each CloudFormation resource type, derived from the resource modules (supported)
 * and the ignored list: the runtime prints it at start and the README lists it, so neither can drift from what runs.
 */

export type SupportLevel = 'supported' | 'ignored';

export interface ResourceSupport {
  type: string;
  level: SupportLevel;
  /** For supported types: the local engine. For ignored types: why skipping it changes nothing a client sees. */
  note: string;
}

export const RESOURCE_SUPPORT: readonly ResourceSupport[] = [
  ...RESOURCE_MODULES.flatMap((module) =>
    module.types.map((type): ResourceSupport => ({ type, level: 'supported', note: module.engine })),
  ),
  ...Object.entries(IGNORED_RESOURCE_TYPES).map(
    ([type, reason]): ResourceSupport => ({ type, level: 'ignored', note: reason }),
  ),
];

const SUPPORT_BY_TYPE = new Map(RESOURCE_SUPPORT.map((entry) => [entry.type, entry]));

/** How the runtime treats `type`; `undefined` means unsupported (the runtime cannot honour it). */
export function supportOf(type: string): ResourceSupport | undefined {
  return SUPPORT_BY_TYPE.get(type);
}

export interface ResourceClassification {
  supported: Record<string, string[]>;
  ignored: Record<string, { ids: string[]; reason: string }>;
  unsupported: Record<string, string[]>;
}

/** Groups the template's included resources (condition true) by what the runtime does with their type. */
export function classifyResources(
  template: CfnTemplate,
  account: LocalAccount = DEFAULT_ACCOUNT,
): ResourceClassification {
  const conditions = conditionResolver(template, account);
  const result: ResourceClassification = { supported: {}, ignored: {}, unsupported: {} };
  for (const logicalId of conditions.includedResources()) {
    const type = template.Resources[logicalId]?.Type ?? '';
    const support = supportOf(type);
    if (support?.level === 'supported') {
      result.supported[type] = [...(result.supported[type] ?? []), logicalId];
    } else if (support?.level === 'ignored') {
      const entry = result.ignored[type] ?? { ids: [], reason: support.note };
      entry.ids.push(logicalId);
      result.ignored[type] = entry;
    } else {
      result.unsupported[type] = [...(result.unsupported[type] ?? []), logicalId];
    }
  }
  return result;
}

/** The support table as Markdown, for the README. */
export function supportTableMarkdown(): string {
  const rows = RESOURCE_SUPPORT.map((entry) => `| \`${entry.type}\` | ${entry.level} | ${entry.note} |`);
  return ['| resource type | locally | how / why |', '|---|---|---|', ...rows].join('\n');
}

/** A start-up summary: one line per type, with counts, engines and reasons. */
export function formatClassification(classification: ResourceClassification): string {
  const lines: string[] = [];
  for (const [type, ids] of Object.entries(classification.supported)) {
    lines.push(`  run      ${type} x${ids.length}: ${supportOf(type)?.note ?? ''}`);
  }
  for (const [type, { ids, reason }] of Object.entries(classification.ignored)) {
    lines.push(`  ignore   ${type} x${ids.length}: ${reason}`);
  }
  for (const [type, ids] of Object.entries(classification.unsupported)) {
    lines.push(`  MISSING  ${type} x${ids.length}: not supported locally (${ids.join(', ')})`);
  }
  return lines.join('\n');
}
