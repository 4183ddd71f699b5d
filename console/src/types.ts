/** The API models the console reads (docs/openapi.json), as far as it reads them. */
export interface Consultation {
  id: string;
  status: string;
  externalRef: string | null;
  roomName: string;
  roomSid: string | null;
  record: boolean;
  scheduledAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  createdAt: string;
  updatedAt: string;
  participants: {
    identity: string;
    role: string;
    sessions: { participantSid: string; connectedAt: string; disconnectedAt: string | null }[];
  }[];
  lobby: {
    identity: string;
    role: string;
    status: string;
    joinedAt: string;
    decidedAt: string | null;
    leftAt: string | null;
    waitedSeconds: number | null;
  }[];
  statusHistory: { status: string; at: string; source?: string }[];
  noShow: { missing: string; waitedSeconds: number } | null;
  billing: { id: string; billableSeconds: number; roundedSeconds: number; version: number; updatedAt: string } | null;
}

export interface BillingRecord {
  id: string;
  consultationId: string;
  billableSeconds: number;
  roundedSeconds: number;
  intervals: { start: string; end: string }[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
