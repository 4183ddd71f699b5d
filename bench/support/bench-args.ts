/** `--name value` / `--flag` arguments of the bench scripts; unknown ones stop the run (exit 2). */
export function benchArgs<T extends Record<string, string | number | boolean>>(argv: readonly string[], defaults: T, usage: string): T {
  const out: Record<string, string | number | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i += 1) {
    const name = argv[i]!.replace(/^--/, '');
    if (!argv[i]!.startsWith('--') || !(name in defaults)) {
      console.error(`unknown argument ${argv[i]}\nusage: ${usage}`);
      process.exit(2);
    }
    const fallback = defaults[name];
    if (typeof fallback === 'boolean') {
      out[name] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) {
      console.error(`--${name} needs a value\nusage: ${usage}`);
      process.exit(2);
    }
    if (typeof fallback === 'number') {
      const number = Number(value.replace(/_/g, ''));
      if (!Number.isFinite(number) || number < 0) {
        console.error(`--${name}: not a number: ${value}`);
        process.exit(2);
      }
      out[name] = number;
    } else {
      out[name] = value;
    }
  }
  return out as T;
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
