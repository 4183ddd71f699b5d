/**
 * Twilio's REST failure modes, for the sandbox's REST routes: 429 with Retry-After, 5xx, and the
 * 404 Twilio answers for a room fetched right after it ended (twilio-node #593). Each rule
 * matches a path fragment (`Rooms`, `Participants`, `Compositions`) and fires a number of times
 * or for ever.
 */
export interface RestFaultRule {
  readonly status: 404 | 429 | 500 | 502 | 503;
  /** A fragment of the path, e.g. `Participants`; every REST route when absent. */
  readonly path?: string;
  /** How many requests it answers; for ever when absent. */
  readonly count?: number;
  /** For 429/503: the Retry-After header, in seconds. */
  readonly retryAfterSeconds?: number;
  /** For 404: only a GET of a room that ended less than this many (sandbox) seconds ago. */
  readonly afterEndSeconds?: number;
}

export class RestFaults {
  private rules: { rule: RestFaultRule; left: number }[] = [];
  /** Requests answered by a rule, oldest first. */
  readonly applied: { status: number; path: string }[] = [];

  add(rule: RestFaultRule): void {
    this.rules.push({ rule, left: rule.count ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.rules = [];
  }

  /**
   * The rule that answers this request, if any (and counts it).
   * @param endedAgoMs for a GET of one room: how long ago it ended (sandbox clock), else undefined
   */
  match(method: string, path: string, endedAgoMs: number | undefined): RestFaultRule | undefined {
    const found = this.rules.find(({ rule, left }) => {
      if (left <= 0 || (rule.path && !path.includes(rule.path))) return false;
      if (rule.afterEndSeconds === undefined) return true;
      return method === 'GET' && endedAgoMs !== undefined && endedAgoMs < rule.afterEndSeconds * 1000;
    });
    if (!found) return undefined;
    found.left -= 1;
    this.applied.push({ status: found.rule.status, path });
    return found.rule;
  }
}
