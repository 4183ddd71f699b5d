import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextLobbyStatus, waitedSeconds, waitsInLobby, type LobbyAction, type LobbyStatus } from './lobby.js';

describe('lobby transitions', () => {
  it('admits and declines only a waiting identity; leaving ends waiting or admission', () => {
    expect(nextLobbyStatus(undefined, 'join')).toBe('waiting');
    expect(nextLobbyStatus('waiting', 'admit')).toBe('admitted');
    expect(nextLobbyStatus('waiting', 'decline')).toBe('declined');
    expect(nextLobbyStatus(undefined, 'admit')).toBeNull();
    expect(nextLobbyStatus('declined', 'admit')).toBeNull();
    expect(nextLobbyStatus('admitted', 'leave')).toBe('left');
    expect(nextLobbyStatus('left', 'join')).toBe('waiting');
    expect(nextLobbyStatus('admitted', 'join')).toBe('admitted');
  });

  it('never reaches admitted except by admitting a waiting identity', () => {
    const actions = fc.array(fc.constantFrom<LobbyAction>('join', 'admit', 'decline', 'leave'), { maxLength: 12 });
    fc.assert(
      fc.property(actions, (sequence) => {
        let status: LobbyStatus | undefined;
        for (const action of sequence) {
          const next = nextLobbyStatus(status, action);
          if (next === 'admitted' && status !== 'admitted') expect([status, action]).toEqual(['waiting', 'admit']);
          if (next !== null) status = next;
        }
      }),
    );
  });

  it('counts the wait to the decision, and the care recipient side waits', () => {
    expect(waitedSeconds({ joinedAt: '2026-01-01T10:00:00.000Z', decidedAt: '2026-01-01T10:03:30.000Z' }, new Date(0))).toBe(210);
    expect(waitedSeconds({ joinedAt: '2026-01-01T10:00:00.000Z', decidedAt: null }, new Date('2026-01-01T10:01:00.000Z'))).toBe(60);
    expect(['patient', 'pet-owner', 'caregiver'].every(waitsInLobby)).toBe(true);
    expect(['clinician', 'interpreter', 'observer'].some(waitsInLobby)).toBe(false);
  });
});
