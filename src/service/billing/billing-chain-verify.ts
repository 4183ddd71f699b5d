/**
 * Recomputes one tenant's billing chain from the database, a page at a time: every stored
 * version re-hashed and linked to the one before, then every billing record compared with its
 * last version (core/billing/billing-chain.ts). Reads only; `roomgate billing verify` runs it.
 */
import { BillingChainVerifier, type ChainVerdict } from '../../core/billing/billing-chain.js';
import { listBillingChain } from '../../storage/billing-chain-repository.js';
import { billingVersionContent, listBillingRecordsById } from '../../storage/billing-repository.js';
import type { Store } from '../../storage/store.js';

const PAGE = 1000;

export async function verifyTenantBillingChain(store: Store, tenantId: string): Promise<ChainVerdict> {
  const verifier = new BillingChainVerifier();
  for (let after = 0; ;) {
    const entries = await listBillingChain(store.db, tenantId, after, PAGE);
    for (const entry of entries) if (verifier.entry(entry)) return verifier.verdict();
    if (entries.length < PAGE) break;
    after = entries.at(-1)!.sequence;
  }
  for (let after = ''; ;) {
    const rows = await listBillingRecordsById(store.db, tenantId, after, PAGE);
    for (const row of rows)
      if (verifier.record({ id: row.id, version: Number(row.version), content: billingVersionContent(row) })) return verifier.verdict();
    if (rows.length < PAGE) break;
    after = rows.at(-1)!.id;
  }
  return verifier.verdict();
}
