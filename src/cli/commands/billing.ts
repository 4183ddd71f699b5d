/**
 * `roomgate billing verify [--tenant SLUG]` — recomputes each tenant's billing chain and prints one
 * JSON line per tenant: intact (entries, head hash) or the first broken entry (its sequence, the
 * billing record, why). Exit 0 when every chain is intact, 1 when one is broken or the tenant is
 * unknown.
 */
import { verifyTenantBillingChain } from '../../service/billing/billing-chain-verify.js';
import { findTenantIdBySlug, listTenants } from '../../storage/tenant-repository.js';
import { openCliStore } from '../cli-store.js';
import { EXIT_FAILURE, EXIT_OK } from '../command.js';

export async function verifyBillingCommand(options: { tenant?: string }): Promise<number> {
  const store = await openCliStore();
  try {
    let tenants: { id: string; slug: string }[];
    if (options.tenant !== undefined) {
      const id = await findTenantIdBySlug(store.db, options.tenant);
      if (!id) {
        console.error(`roomgate: no tenant '${options.tenant}'`);
        return EXIT_FAILURE;
      }
      tenants = [{ id, slug: options.tenant }];
    } else {
      tenants = (await listTenants(store.db)).map((tenant) => ({ id: tenant.id, slug: tenant.slug }));
    }
    let code = EXIT_OK;
    for (const tenant of tenants) {
      const verdict = await verifyTenantBillingChain(store, tenant.id);
      console.log(JSON.stringify({ tenant: tenant.slug, ...verdict }));
      if (!verdict.ok) {
        code = EXIT_FAILURE;
        console.error(
          `roomgate: billing chain of '${tenant.slug}' broken at entry ${verdict.sequence ?? '-'} (billing record ${verdict.billingRecordId}): ${verdict.reason} — ${verdict.detail}`,
        );
      }
    }
    return code;
  } finally {
    await store.close();
  }
}
