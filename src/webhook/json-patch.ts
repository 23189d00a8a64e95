/**
 * RFC 6902 JSON Patch between two JSON documents (the reviewed object and its mutated copy). Pure;
 * inputs are plain JSON values (no undefined, no functions). The tests check the patches with an
 * independent applier (fast-json-patch), never with code of this project.
 */
export type JsonPatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** RFC 6901: `~` → `~0`, `/` → `~1` (annotation keys such as `piggysec.com/piggy-uid` hold `/`). */
export function escapePointerSegment(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function isJsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => isJsonEqual(item, b[index]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && isJsonEqual(a[key], b[key]));
  }
  return false;
}

/** The operations that turn `before` into `after`. Equal documents give no operations. */
export function diffJson(before: unknown, after: unknown, path = ''): JsonPatchOperation[] {
  if (isJsonEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const ops: JsonPatchOperation[] = [];
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key)) ops.push({ op: 'remove', path: `${path}/${escapePointerSegment(key)}` });
    }
    for (const [key, value] of Object.entries(after)) {
      const child = `${path}/${escapePointerSegment(key)}`;
      if (Object.hasOwn(before, key)) ops.push(...diffJson(before[key], value, child));
      else ops.push({ op: 'add', path: child, value });
    }
    return ops;
  }
  if (Array.isArray(before) && Array.isArray(after)) return diffArray(before, after, path);
  return [{ op: 'replace', path, value: after }];
}

/** Same length: element by element. Items only added in front or at the end: adds. Otherwise: replace. */
function diffArray(before: readonly unknown[], after: readonly unknown[], path: string): JsonPatchOperation[] {
  if (before.length === after.length) return before.flatMap((item, index) => diffJson(item, after[index], `${path}/${index}`));
  if (after.length > before.length) {
    for (let front = 0; front <= after.length - before.length; front += 1) {
      const back = after.length - before.length - front;
      const middle = after.slice(front, after.length - back);
      if (middle.every((item, index) => isJsonEqual(item, before[index]))) {
        return [
          ...after.slice(0, front).map((value, index) => ({ op: 'add' as const, path: `${path}/${index}`, value })),
          ...after.slice(after.length - back).map((value, index) => ({ op: 'add' as const, path: `${path}/${front + before.length + index}`, value })),
        ];
      }
    }
  }
  return [{ op: 'replace', path, value: after }];
}
