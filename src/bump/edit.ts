import { AppError } from '../shared/errors.ts';
import { parseBumpTargets } from './documents.ts';
import type { BumpChange, TextEdit } from './plan.ts';

/**
 * Splices the edits into the text; every byte outside the edited ranges stays as it was. Edits
 * must not overlap (two inserts at one offset keep their order).
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const ordered = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let cursor = 0;
  for (const edit of ordered) {
    if (edit.start < cursor || edit.end < edit.start || edit.end > text.length) {
      throw new AppError('ERR_BUMP_REWRITE_FAILED', 'overlapping or out-of-range edits', {
        details: { start: edit.start, end: edit.end },
      });
    }
    out += text.slice(cursor, edit.start) + edit.text;
    cursor = edit.end;
  }
  return out + text.slice(cursor);
}

/**
 * Reads the rewritten text back and checks that it is still valid YAML with the same AWSSecrets
 * and that every planned versionId now reads as its new value. Returns a reason when it does not.
 */
export function checkRewrite(before: string, after: string, changes: readonly BumpChange[]): string | undefined {
  const was = parseBumpTargets(before);
  const now = parseBumpTargets(after);
  if (now.problems.length > 0) return now.problems[0]?.message;
  if (now.awsSecrets !== was.awsSecrets || now.refs.length !== was.refs.length) return 'the set of AWSSecrets changed';
  for (const change of changes) {
    const ref = now.refs.find((r) => r.documentIndex === change.documentIndex && r.field === change.field);
    if (ref?.versionId !== change.to) return `the ${change.field} versionId of document ${change.documentIndex + 1} does not read back`;
  }
  return undefined;
}
