/** Types of console/build.mjs for the tests that build the console first. */
export function buildConsole(options?: { quiet?: boolean }): Promise<Record<string, { bytes: number; gzip: number }>>;
