// The numeric `--flag value` / `--flag=value` options of the benchmarks' command lines.

/**
 * Reads `argv` against the known flags; returns a reader for each flag's number (its fallback when
 * not given). Unknown flags and values below the minimum throw, naming the flag and the usage.
 */
export function readNumberFlags(argv: readonly string[], known: readonly string[], usage: string): (flag: string, fallback: number, min: number) => number {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] ?? '').split('=', 2);
    if (!known.includes(flag)) throw new Error(`unknown option ${flag}; usage: ${usage}`);
    values.set(flag, inline ?? argv[++i] ?? '');
  }
  return (flag, fallback, min) => {
    const value = Number(values.get(flag) ?? fallback);
    if (!Number.isFinite(value) || value < min) throw new Error(`${flag} must be a number >= ${min}`);
    return value;
  };
}
