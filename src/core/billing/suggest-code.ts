/**
 * The code a measured overlap suggests in the tenant's code set (code-sets.ts). Pure: the
 * overlap's whole seconds, the modality seen in it and the patient's status in, a suggestion out
 * — or no code and the reason why. A help for the coder, never coding advice.
 */
import { TIMED_CODE_SETS, type CodeSetId, type FlatMode, type Modality, type PatientStatus, type TimedCodeSet } from './code-sets.js';

export type NoCodeReason = 'under-minimum' | 'patient-status-unknown' | 'modality-unknown' | 'no-overlap';

export interface CodeSuggestion {
  readonly codeSet: CodeSetId;
  /** null: nothing to suggest (see reason). Flat: `flat-visit` or `flat-block`. */
  readonly code: string | null;
  readonly modifier: string | null;
  /** 1 for a timed code or a flat visit; the started blocks for `flat-block`; 0 without a code. */
  readonly units: number;
  /** The minutes the suggested level requires (met or exceeded); null for flat or no code. */
  readonly thresholdMinutes: number | null;
  readonly description: string;
  readonly reason: NoCodeReason | null;
}

export interface SuggestCodeInput {
  readonly codeSet: CodeSetId;
  /** The overlap billed, whole seconds (never the rounded figure: rounding up would overstate time). */
  readonly billableSeconds: number;
  readonly roundedSeconds: number;
  readonly roundingSeconds: number;
  /** 'unknown' when no track of the billing participants was seen in the overlap. */
  readonly modality: Modality | 'unknown';
  readonly patientStatus?: PatientStatus | undefined;
  readonly flatMode?: FlatMode | undefined;
}

/**
 * @example suggestCode({ codeSet: 'us-cpt-2025', billableSeconds: 600, roundedSeconds: 600, roundingSeconds: 60,
 *   modality: 'audio-video', patientStatus: 'established' }).code === '98004'
 */
export function suggestCode(input: SuggestCodeInput): CodeSuggestion {
  if (input.codeSet === 'flat') return suggestFlat(input);
  return suggestTimed(TIMED_CODE_SETS[input.codeSet], input);
}

function suggestTimed(set: TimedCodeSet, input: SuggestCodeInput): CodeSuggestion {
  const none = (reason: NoCodeReason, description: string): CodeSuggestion => ({
    codeSet: set.id,
    code: null,
    modifier: null,
    units: 0,
    thresholdMinutes: null,
    description,
    reason,
  });
  const seconds = Math.max(0, Math.floor(input.billableSeconds));
  if (seconds === 0) return none('no-overlap', 'No billable overlap.');
  if (!input.patientStatus)
    return none('patient-status-unknown', 'The consultation does not say whether the patient is new or established.');
  const ladders = set.ladders.filter((ladder) => ladder.patientStatus === input.patientStatus);
  const met = (minutes: number) => seconds >= minutes * 60;
  if (input.modality === 'unknown') {
    // An E/M level depends on the modality: never fall back to a code that ignores it.
    const anyTimed = ladders.some((ladder) => ladder.modality !== undefined && met(ladder.levels[0]!.minMinutes));
    if (anyTimed) return none('modality-unknown', 'No audio or video track of the clinician or care recipient was seen in the overlap.');
  }
  for (const ladder of ladders) {
    if (ladder.modality !== undefined && ladder.modality !== input.modality) continue;
    const level = [...ladder.levels].reverse().find((candidate) => met(candidate.minMinutes));
    if (!level) continue;
    return {
      codeSet: set.id,
      code: level.code,
      modifier: level.modifier ?? null,
      units: 1,
      thresholdMinutes: level.minMinutes,
      description: level.description,
      reason: null,
    };
  }
  return none('under-minimum', 'The overlap is under the lowest time this code set reports.');
}

function suggestFlat(input: SuggestCodeInput): CodeSuggestion {
  const mode = input.flatMode ?? 'visit';
  if (input.billableSeconds <= 0)
    return {
      codeSet: 'flat',
      code: null,
      modifier: null,
      units: 0,
      thresholdMinutes: null,
      description: 'No billable overlap.',
      reason: 'no-overlap',
    };
  const unit = Math.max(1, Math.floor(input.roundingSeconds));
  if (mode === 'block') {
    const units = Math.max(1, Math.ceil(input.billableSeconds / unit));
    return {
      codeSet: 'flat',
      code: 'flat-block',
      modifier: null,
      units,
      thresholdMinutes: null,
      description: `${units} started block(s) of ${unit} s`,
      reason: null,
    };
  }
  return {
    codeSet: 'flat',
    code: 'flat-visit',
    modifier: null,
    units: 1,
    thresholdMinutes: null,
    description: 'One flat-fee visit',
    reason: null,
  };
}
