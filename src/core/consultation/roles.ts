/** Who may take part, by tenant kind; and which roles make a consultation billable. */
export type ParticipantRole = 'clinician' | 'patient' | 'pet-owner' | 'caregiver' | 'interpreter' | 'observer';

const ROLES_BY_KIND = {
  human: ['clinician', 'patient', 'caregiver', 'interpreter', 'observer'],
  veterinary: ['clinician', 'pet-owner', 'interpreter', 'observer'],
} as const satisfies Record<'human' | 'veterinary', readonly ParticipantRole[]>;

/** @example rolesForTenantKind('veterinary') → ['clinician', 'pet-owner', 'interpreter', 'observer'] */
export function rolesForTenantKind(kind: 'human' | 'veterinary'): readonly ParticipantRole[] {
  return ROLES_BY_KIND[kind];
}

/**
 * The side of the consultation that receives care: billed time needs one of these with a clinician.
 *
 * @example isCareRecipient('pet-owner') // true; isCareRecipient('caregiver') // false
 */
export function isCareRecipient(role: string | undefined): boolean {
  return role === 'patient' || role === 'pet-owner';
}
