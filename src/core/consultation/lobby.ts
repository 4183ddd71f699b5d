/**
 * The waiting room: a care recipient waits in the lobby until the clinician's side admits or
 * declines them. Pure: the transitions and what a token request needs. No Twilio room is used.
 */
export type LobbyStatus = 'waiting' | 'admitted' | 'declined' | 'left';
export type LobbyAction = 'join' | 'admit' | 'decline' | 'leave';

/** Who waits in the lobby when the waiting room is on: the care recipient's side. */
export function waitsInLobby(role: string): boolean {
  return role === 'patient' || role === 'pet-owner' || role === 'caregiver';
}

/**
 * The next status, or null when the action is not allowed from the current one. Joining again
 * after leaving or being declined waits again; joining while waiting or admitted changes nothing.
 */
export function nextLobbyStatus(current: LobbyStatus | undefined, action: LobbyAction): LobbyStatus | null {
  switch (action) {
    case 'join':
      return current === 'waiting' || current === 'admitted' ? current : 'waiting';
    case 'admit':
    case 'decline':
      return current === 'waiting' ? (action === 'admit' ? 'admitted' : 'declined') : null;
    case 'leave':
      return current === 'waiting' || current === 'admitted' ? 'left' : null;
  }
}

/** Seconds from joining the lobby to the decision (or to `now` while still waiting). */
export function waitedSeconds(entry: { joinedAt: string; decidedAt: string | null }, now: Date): number {
  const end = entry.decidedAt ? Date.parse(entry.decidedAt) : now.getTime();
  return Math.max(0, Math.floor((end - Date.parse(entry.joinedAt)) / 1000));
}
