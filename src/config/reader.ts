import type { Parsed } from './parse.ts';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

/** Reads variables from an environment, collecting every problem instead of stopping at the first. */
export class EnvReader {
  readonly issues: ConfigIssue[] = [];
  readonly #env: Environment;

  constructor(env: Environment) {
    this.#env = env;
  }

  /** A trimmed value, or undefined when unset or blank. */
  optional(variable: string): string | undefined {
    const raw = this.#env[variable]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  }

  /** Parses the variable (or the fallback text when unset); a missing required variable is an issue. */
  read<T>(variable: string, fallback: string | undefined, parse: (text: string) => Parsed<T>): T {
    const text = this.optional(variable) ?? fallback;
    if (text === undefined) {
      this.issues.push({ variable, problem: 'is required' });
      return undefined as T;
    }
    const result = parse(text);
    if (!result.ok) {
      this.issues.push({ variable, problem: result.error });
      return undefined as T;
    }
    return result.value;
  }
}
