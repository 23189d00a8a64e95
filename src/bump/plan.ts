import { parse } from 'yaml';
import type { RefField, ScalarStyle, VersionRef, VersionSite } from './documents.ts';

/** Replace text[start, end) with `text`. Offsets are into the original file text. */
export interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** One versionId that is not the secret's AWSCURRENT version. */
export interface BumpChange {
  readonly documentIndex: number;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly field: RefField;
  readonly from: string | undefined;
  readonly to: string;
}

export interface BumpPlan {
  readonly changes: readonly BumpChange[];
  readonly edits: readonly TextEdit[];
}

/** The region a ref is read in: its document's spec.region, else the default (AWS_REGION). */
export function regionOf(ref: Pick<VersionRef, 'region'>, defaultRegion: string | undefined): string | undefined {
  return ref.region ?? defaultRegion;
}

/** The key of one (region, secretId): each is described once per run. */
export function versionKey(region: string | undefined, secretId: string): string {
  return JSON.stringify([region ?? '', secretId]);
}

const PLAIN_SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Whether a value written without quotes reads back as the same string in block and flow context. */
function isPlainSafe(value: string): boolean {
  if (!PLAIN_SAFE.test(value)) return false;
  try {
    return parse(value) === value;
  } catch {
    return false;
  }
}

/**
 * The source text of a versionId in the style it was written in. A plain value that YAML would
 * read as something else (a number, a boolean) is double-quoted instead.
 */
export function renderVersionId(value: string, style: ScalarStyle): string {
  if (style === 'QUOTE_SINGLE') return `'${value.replaceAll("'", "''")}'`;
  if (style === 'PLAIN' && isPlainSafe(value)) return value;
  return JSON.stringify(value);
}

/** The edit that writes `versionId` at a site, in the site's quoting. */
export function buildEdit(site: VersionSite, versionId: string): TextEdit {
  if (site.kind === 'insert') {
    return { start: site.offset, end: site.offset, text: `${site.prefix}${renderVersionId(versionId, 'PLAIN')}${site.suffix}` };
  }
  const rendered = renderVersionId(versionId, site.style);
  return { start: site.start, end: site.end, text: `${site.spaceBefore ? ' ' : ''}${rendered}${site.spaceAfter ? ' ' : ''}` };
}

/**
 * Decides the edits of one file: every ref whose versionId differs from its secret's current
 * version (looked up by versionKey) is rewritten in place, keeping its quoting. Refs without a
 * known current version are skipped (their error is reported elsewhere).
 */
export function planBumps(
  refs: readonly VersionRef[],
  currentVersions: ReadonlyMap<string, string>,
  defaultRegion: string | undefined,
): BumpPlan {
  const changes: BumpChange[] = [];
  const edits: TextEdit[] = [];
  for (const ref of refs) {
    const current = currentVersions.get(versionKey(regionOf(ref, defaultRegion), ref.secretId));
    if (current === undefined || current === ref.versionId) continue;
    const edit = buildEdit(ref.site, current);
    // Two refs can read one YAML node (an alias): one edit serves both.
    if (!edits.some((other) => other.start === edit.start && other.end === edit.end)) edits.push(edit);
    changes.push({
      documentIndex: ref.documentIndex,
      namespace: ref.namespace,
      name: ref.name,
      field: ref.field,
      from: ref.versionId,
      to: current,
    });
  }
  return { changes, edits };
}
