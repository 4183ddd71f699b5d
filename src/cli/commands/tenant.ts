/** `roomgate tenant create SLUG --name N --kind human|veterinary [--rounding 60] [--retention-days 3650]` */
import { parseOptions, UsageError } from '../command.js';
import { auditCli, openCliStore } from '../cli-store.js';
import { createTenant } from '../../service/tenants/tenant-admin.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      kind: { type: 'string' },
      rounding: { type: 'string' },
      'retention-days': { type: 'string' },
    },
  });
  const [action, slug] = positionals;
  if (action !== 'create' || !slug || positionals.length !== 2)
    throw new UsageError('usage: roomgate tenant create SLUG --name NAME --kind human|veterinary');
  if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(slug)) throw new UsageError('SLUG: lower-case letters, digits and -, 2 to 63 characters');
  const kind = values.kind;
  if (kind !== 'human' && kind !== 'veterinary') throw new UsageError('--kind must be human or veterinary');
  const name = values.name?.trim();
  if (!name) throw new UsageError('--name is required');
  const rounding = positiveInteger(values.rounding ?? '60', '--rounding');
  const retentionDays = positiveInteger(values['retention-days'] ?? '3650', '--retention-days');

  const store = await openCliStore();
  try {
    const existing = await store.db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirst();
    if (existing) {
      console.error(`roomgate: tenant '${slug}' already exists`);
      return 1;
    }
    const id = await createTenant(store, { slug, name, kind, billingRoundingSeconds: rounding, retentionDays });
    await auditCli(store, { tenantId: id, action: 'tenant.create', target: slug, outcome: 'created', detail: { kind } });
    console.log(JSON.stringify({ id, slug, name, kind, billingRoundingSeconds: rounding, retentionDays }));
    return 0;
  } finally {
    await store.close();
  }
}

function positiveInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a positive integer`);
  return Number(text);
}
