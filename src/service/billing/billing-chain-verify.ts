/**
 * Recomputes one tenant's billing chain from the database, a page at a time: every stored
 * version re-hashed and linked to the one before, then every billing record compared with its
 * last version (core/billing/billing-chain.ts). Reads only, so it runs beside a live service: a
 * record that looks newer than the chain read so far (corrected meanwhile) makes it read the
 * chain on and look at the record again before calling it broken.
 */
import { BillingChainVerifier, type ChainVerdict } from '../../core/billing/billing-chain.js';
import { listBillingChain } from '../../storage/billing-chain-repository.js';
import { billingVersionContent, findTenantBillingRecord, listBillingRecordsById } from '../../storage/billing-repository.js';
import type { Store } from '../../storage/store.js';

const PAGE = 1000;

export async function verifyTenantBillingChain(store: Store, tenantId: string): Promise<ChainVerdict> {
  const verifier = new BillingChainVerifier();
  /** Feeds every entry after the last verified one; false when one breaks the chain. */
  const readChain = async (): Promise<boolean> => {
    for (;;) {
      const entries = await listBillingChain(store.db, tenantId, verifier.lastSequence, PAGE);
      for (const entry of entries) if (verifier.entry(entry)) return false;
      if (entries.length < PAGE) return true;
    }
  };
  if (!(await readChain())) return verifier.verdict();
  for (let after = ''; ;) {
    const rows = await listBillingRecordsById(store.db, tenantId, after, PAGE);
    for (const row of rows) {
      const record = { id: row.id, version: Number(row.version), content: billingVersionContent(row) };
      // Corrected since the chain was read? Its entry committed with it: read the chain on and
      // look again (a few times: it may be corrected again meanwhile), then judge.
      let current = record;
      for (let attempt = 0; attempt < 5 && verifier.check(current); attempt++) {
        if (!(await readChain())) return verifier.verdict();
        const fresh = await findTenantBillingRecord(store.db, tenantId, row.id);
        if (!fresh) break; // never deleted by Roomgate: the check below names it
        current = { id: fresh.id, version: Number(fresh.version), content: billingVersionContent(fresh) };
      }
      if (verifier.record(current)) return verifier.verdict();
    }
    if (rows.length < PAGE) break;
    after = rows.at(-1)!.id;
  }
  return verifier.verdict();
}
