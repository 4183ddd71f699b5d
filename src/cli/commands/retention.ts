// Placeholder until the command is built (see the open issues); fails loudly, never pretends.
export async function run(_argv: string[]): Promise<number> {
  console.error('roomgate retention: not available in this build');
  return 1;
}
