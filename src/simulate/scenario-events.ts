/**
 * The callbacks Twilio sends for one consultation, as parameter lists: a clinician and a care
 * recipient join, their tracks are recorded, they leave. Timestamps are spread over the minutes
 * before `end`, so the whole script is inside the replay window when sent.
 */
import { randomBytes } from 'node:crypto';
import type { FormParam } from '../core/signature/twilio-signature.js';

export interface ScriptedEvent {
  readonly label: string;
  readonly params: FormParam[];
}

const hex = () => randomBytes(16).toString('hex');

export function consultationScript(input: {
  accountSid: string;
  roomSid: string;
  roomName: string;
  clinician: string;
  recipient: string;
  end: Date;
}): ScriptedEvent[] {
  const at = (minutesBeforeEnd: number) => new Date(input.end.getTime() - minutesBeforeEnd * 60_000).toISOString();
  let sequence = 0;
  const room = (event: string, minutes: number, extra: FormParam[] = [], status = 'in-progress'): ScriptedEvent => ({
    label:
      event +
      (extra.find(([key]) => key === 'ParticipantIdentity')?.[1] ? ` (${extra.find(([key]) => key === 'ParticipantIdentity')![1]})` : ''),
    params: [
      ['AccountSid', input.accountSid],
      ['RoomName', input.roomName],
      ['RoomSid', input.roomSid],
      ['RoomStatus', status],
      ['RoomType', 'group'],
      ['StatusCallbackEvent', event],
      ['Timestamp', at(minutes)],
      ['SequenceNumber', String(sequence++)],
      ...extra,
    ],
  });
  const clinicianSid = `PA${hex()}`;
  const recipientSid = `PA${hex()}`;
  const recordings = [
    { sid: `RT${hex()}`, participant: clinicianSid, identity: input.clinician },
    { sid: `RT${hex()}`, participant: recipientSid, identity: input.recipient },
  ];
  const participant = (sid: string, identity: string, status: string): FormParam[] => [
    ['ParticipantSid', sid],
    ['ParticipantIdentity', identity],
    ['ParticipantStatus', status],
  ];
  const recording = (r: (typeof recordings)[number], completed: boolean): FormParam[] => [
    ['RecordingSid', r.sid],
    ['SourceSid', r.sid],
    ['RecordingUri', `/v1/Recordings/${r.sid}`],
    ['Container', 'mka'],
    ['Codec', 'OPUS'],
    ['Type', 'audio'],
    ['TrackName', `audio-${r.identity}`],
    ['ParticipantSid', r.participant],
    ['ParticipantIdentity', r.identity],
    ['OffsetFromTwilioVideoEpoch', '0'],
    ...(completed
      ? ([
          ['MediaUri', `/v1/Recordings/${r.sid}/Media`],
          ['Duration', '540'],
          ['Size', '8640000'],
          ['MediaExternalLocation', ''],
        ] as FormParam[])
      : []),
  ];
  return [
    room('room-created', 12),
    room('participant-connected', 11, participant(clinicianSid, input.clinician, 'connected')),
    room('recording-started', 11, recording(recordings[0]!, false)),
    room('participant-connected', 10, participant(recipientSid, input.recipient, 'connected')),
    room('recording-started', 10, recording(recordings[1]!, false)),
    room('participant-disconnected', 1, [...participant(recipientSid, input.recipient, 'disconnected'), ['ParticipantDuration', '540']]),
    room('recording-completed', 1, recording(recordings[1]!, true)),
    room('participant-disconnected', 0.5, [...participant(clinicianSid, input.clinician, 'disconnected'), ['ParticipantDuration', '630']]),
    room('recording-completed', 0.5, recording(recordings[0]!, true)),
  ];
}
