/** The LobbyEntry model (api/schemas/lobby.ts) from a stored entry. */
import type { Static } from 'typebox';
import type { LobbyEntry as LobbyEntryModel } from '../api/schemas/lobby.js';
import type { LobbyEntry } from '../../storage/lobby-repository.js';

export function lobbyEntryView(entry: LobbyEntry): Static<typeof LobbyEntryModel> {
  const end = entry.decidedAt ?? entry.leftAt;
  return {
    identity: entry.identity,
    role: entry.role,
    status: entry.status as Static<typeof LobbyEntryModel>['status'],
    joinedAt: entry.joinedAt,
    decidedAt: entry.decidedAt,
    leftAt: entry.leftAt,
    waitedSeconds: end ? Math.max(0, Math.floor((Date.parse(end) - Date.parse(entry.joinedAt)) / 1000)) : null,
  };
}
