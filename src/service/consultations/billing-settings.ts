/** What the billing evidence needs from the consultation and its tenant, read from the projection row. */
import {
  CODE_SET_IDS,
  defaultCodeSet,
  FLAT_MODES,
  PATIENT_STATUSES,
  type CodeSetId,
  type FlatMode,
  type PatientStatus,
} from '../../core/billing/code-sets.js';
import { DEFAULT_ROUNDING_SECONDS } from '../../core/consultation/consultation-state.js';

export interface BillingSettings {
  readonly codeSet: CodeSetId;
  readonly roundingSeconds: number;
  readonly patientStatus: PatientStatus | undefined;
  readonly flatMode: FlatMode | undefined;
}

const member = <T extends string>(list: readonly T[], value: string | null | undefined): T | undefined =>
  list.includes(value as T) ? (value as T) : undefined;

export function billingSettingsOf(row: {
  tenant_kind: 'human' | 'veterinary';
  billing_code_set: string | null;
  billing_flat_mode: string | null;
  billing_rounding_seconds: number;
  patient_status: string | null;
}): BillingSettings {
  return {
    codeSet: member(CODE_SET_IDS, row.billing_code_set) ?? defaultCodeSet(row.tenant_kind),
    roundingSeconds: row.billing_rounding_seconds ?? DEFAULT_ROUNDING_SECONDS,
    patientStatus: member(PATIENT_STATUSES, row.patient_status),
    flatMode: member(FLAT_MODES, row.billing_flat_mode),
  };
}
