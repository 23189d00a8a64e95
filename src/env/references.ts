/**
 * `piggy:NAME` references in the launcher's environment and the app environment built from them.
 * Pure. A whole value `piggy:NAME` (a trailing newline, or anything after the first newline, is
 * ignored, as in Piggy) is replaced by the secret's NAME value; the variable keeps its own name, so
 * `DB_PASSWORD=piggy:prod-db-password` works. The launcher's control variables never reach the app.
 */
import { isPiggyReference, readPiggyReference } from '../shared/injection-contract.ts';
import { CONTROL_ENV_NAMES, type Env } from './settings.ts';

export interface ReferencePlan {
  /** Variable name → secret key, for every well-formed reference. */
  readonly byVariable: ReadonlyMap<string, string>;
  /** Variables whose value starts with `piggy:` but names no key (`piggy:`, `piggy:\n…`). */
  readonly malformed: readonly string[];
  /** The distinct keys referenced, sorted. */
  readonly keys: readonly string[];
}

export function planReferences(env: Env): ReferencePlan {
  const byVariable = new Map<string, string>();
  const malformed: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || CONTROL_ENV_NAMES.has(name) || !isPiggyReference(value)) continue;
    const key = readPiggyReference(value);
    if (key === undefined) malformed.push(name);
    else byVariable.set(name, key);
  }
  return { byVariable, malformed: malformed.sort(), keys: [...new Set(byVariable.values())].sort() };
}

export interface AppEnv {
  readonly env: Record<string, string>;
  /** Variables still holding a `piggy:` value (names only), sorted. */
  readonly unresolved: readonly string[];
  readonly resolved: number;
}

/**
 * The app's environment: control variables removed, references replaced by their values. An
 * unresolved reference keeps its literal `piggy:` value (what the pod spec says, as in Piggy); the
 * caller decides whether the app may start that way (PIGGY_IGNORE_NO_ENV).
 */
export function buildAppEnv(env: Env, plan: ReferencePlan, values: Readonly<Record<string, string>>): AppEnv {
  const out: Record<string, string> = {};
  const unresolved: string[] = [...plan.malformed];
  let resolved = 0;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || CONTROL_ENV_NAMES.has(name)) continue;
    const key = plan.byVariable.get(name);
    const secret = key === undefined ? undefined : values[key];
    if (key !== undefined && typeof secret === 'string' && Object.hasOwn(values, key)) {
      out[name] = secret;
      resolved += 1;
    } else {
      if (key !== undefined) unresolved.push(name);
      out[name] = value;
    }
  }
  return { env: out, unresolved: unresolved.sort(), resolved };
}
