/**
 * The billing code sets, as data: which code a measured overlap suggests, by total minutes met
 * or exceeded. Suggested codes are a help for the clinic's coder, never coding advice: a payer
 * decides on the documentation (medical decision-making, time not spent in the call, payer rules).
 *
 * Sources (checked 2026-11; see README "Billing evidence and code sets"):
 * - CPT 2025 telemedicine E/M 98000–98015: AMA CPT 2025, Telemedicine Services; thresholds as
 *   tabulated by J. Urgent Care Med. "What's new in telemedicine for 2025"
 *   (https://jucm.com/whats-new-in-telemedicine-for-2025) and Experity
 *   (https://experityhealth.com/blog/whats-new-in-telemedicine-for-2025): audio-video new
 *   98000–98003 at 15/30/45/60 min, established 98004–98007 at 10/20/30/40 min; audio-only
 *   98008–98011 / 98012–98015 with the same minimums ("must be met or exceeded",
 *   https://americanmedicalcoding.com/mastering-2025-telemedicine-codes).
 * - 98016, brief communication technology-based service (virtual check-in): established patients
 *   only, 5–10 minutes of medical discussion; not reported under 5 minutes; replaces HCPCS G2012
 *   (https://codingintel.com/virtual-communication-codes,
 *   https://the-rheumatologist.org/article/key-telemedicine-updates-for-2025/2).
 * - Medicare: did not adopt 98000–98015 (status "invalid"); bills office/outpatient E/M
 *   99202–99205 / 99212–99215 with modifier 95 (audio-video) or 93 (audio-only), and recognises
 *   98016 in place of G2012 (https://www.verimedix.com/new-telehealth-em-codes-98000-98016/,
 *   https://aafp.org/pubs/fpm/blogs/gettingpaid/entry/medicare-telehealth-2025.html — which adds
 *   that traditional Medicare no longer requires 95 and reads the place of service instead).
 *   Time minimums since 2021 (AMA E/M revision, ranges dropped in 2024): 99202 15, 99203 30,
 *   99204 45, 99205 60; 99212 10, 99213 20, 99214 30, 99215 40
 *   (https://college.acaai.org/need-guidance-on-e-m-codes-based-on-time). 99211 has no time.
 * - Veterinary practices bill a flat fee per visit or per started block of time, not CPT.
 *
 * How a threshold applies: a level is met when the billed overlap, in whole seconds, is at least
 * its minutes × 60 (15:00 meets 15 minutes, 14:59 does not). The highest level met wins.
 * Prolonged-service add-ons (99417, G2212) are not suggested.
 */

export type CodeSetId = 'us-cpt-2025' | 'us-medicare' | 'flat';
export const CODE_SET_IDS: readonly CodeSetId[] = ['us-cpt-2025', 'us-medicare', 'flat'];

export type PatientStatus = 'new' | 'established';
export const PATIENT_STATUSES: readonly PatientStatus[] = ['new', 'established'];

/** What was seen in the overlap: video published by a billing participant, or audio only. */
export type Modality = 'audio-video' | 'audio-only';

export interface TimedCode {
  readonly code: string;
  /** Total minutes that must be met or exceeded. */
  readonly minMinutes: number;
  /** Appended to the code (Medicare telehealth), none when absent. */
  readonly modifier?: string;
  readonly description: string;
}

/** One ladder of levels, lowest first, for one patient status and modality. */
export interface CodeLadder {
  readonly patientStatus: PatientStatus;
  /** Undefined: either modality. */
  readonly modality?: Modality;
  readonly levels: readonly TimedCode[];
}

export interface TimedCodeSet {
  readonly id: Exclude<CodeSetId, 'flat'>;
  readonly title: string;
  /** Ladders tried in order: the first whose status and modality match and whose lowest level is met. */
  readonly ladders: readonly CodeLadder[];
  readonly sources: readonly string[];
}

const CHECK_IN_98016: CodeLadder = {
  patientStatus: 'established',
  levels: [{ code: '98016', minMinutes: 5, description: 'Brief communication technology-based service (virtual check-in), 5–10 min' }],
};

const ladder = (
  patientStatus: PatientStatus,
  modality: Modality | undefined,
  codes: readonly string[],
  minutes: readonly number[],
  label: string,
  modifier?: string,
): CodeLadder => ({
  patientStatus,
  ...(modality ? { modality } : {}),
  levels: codes.map((code, index) => ({
    code,
    minMinutes: minutes[index]!,
    ...(modifier ? { modifier } : {}),
    description: `${label}, ${patientStatus} patient, ${minutes[index]!} min or more`,
  })),
});

const NEW_MINUTES = [15, 30, 45, 60] as const;
const ESTABLISHED_MINUTES = [10, 20, 30, 40] as const;

export const US_CPT_2025: TimedCodeSet = {
  id: 'us-cpt-2025',
  title: 'CPT 2025 telemedicine E/M (98000–98016)',
  ladders: [
    ladder('new', 'audio-video', ['98000', '98001', '98002', '98003'], NEW_MINUTES, 'Synchronous audio-video E/M'),
    ladder('established', 'audio-video', ['98004', '98005', '98006', '98007'], ESTABLISHED_MINUTES, 'Synchronous audio-video E/M'),
    ladder('new', 'audio-only', ['98008', '98009', '98010', '98011'], NEW_MINUTES, 'Synchronous audio-only E/M'),
    ladder('established', 'audio-only', ['98012', '98013', '98014', '98015'], ESTABLISHED_MINUTES, 'Synchronous audio-only E/M'),
    CHECK_IN_98016,
  ],
  sources: [
    'https://jucm.com/whats-new-in-telemedicine-for-2025',
    'https://americanmedicalcoding.com/mastering-2025-telemedicine-codes',
    'https://codingintel.com/virtual-communication-codes',
  ],
};

export const US_MEDICARE: TimedCodeSet = {
  id: 'us-medicare',
  title: 'Medicare office/outpatient E/M by time (99202–99215) with modifier 95 / 93',
  ladders: [
    ladder('new', 'audio-video', ['99202', '99203', '99204', '99205'], NEW_MINUTES, 'Office/outpatient E/M via audio-video', '95'),
    ladder(
      'established',
      'audio-video',
      ['99212', '99213', '99214', '99215'],
      ESTABLISHED_MINUTES,
      'Office/outpatient E/M via audio-video',
      '95',
    ),
    ladder('new', 'audio-only', ['99202', '99203', '99204', '99205'], NEW_MINUTES, 'Office/outpatient E/M via audio-only', '93'),
    ladder(
      'established',
      'audio-only',
      ['99212', '99213', '99214', '99215'],
      ESTABLISHED_MINUTES,
      'Office/outpatient E/M via audio-only',
      '93',
    ),
    CHECK_IN_98016,
  ],
  sources: [
    'https://www.verimedix.com/new-telehealth-em-codes-98000-98016/',
    'https://aafp.org/pubs/fpm/blogs/gettingpaid/entry/medicare-telehealth-2025.html',
    'https://college.acaai.org/need-guidance-on-e-m-codes-based-on-time',
  ],
};

export const TIMED_CODE_SETS: Readonly<Record<TimedCodeSet['id'], TimedCodeSet>> = {
  'us-cpt-2025': US_CPT_2025,
  'us-medicare': US_MEDICARE,
};

/** Veterinary: one fee per visit, or one unit per started block (the tenant's billing unit). */
export type FlatMode = 'visit' | 'block';
export const FLAT_MODES: readonly FlatMode[] = ['visit', 'block'];

/** The code set a tenant uses when it chose none: CPT for human clinics, flat for veterinary. */
export function defaultCodeSet(kind: 'human' | 'veterinary'): CodeSetId {
  return kind === 'veterinary' ? 'flat' : 'us-cpt-2025';
}
