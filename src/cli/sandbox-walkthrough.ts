/**
 * The step-by-step walkthrough of sandbox mode: the banner of `roomgate serve` prints it with
 * the real URLs, and src/sandbox/README.md holds the same lines (a test runs them from there).
 * Plain bash with curl and node, nothing else to install.
 */
export const WALKTHROUGH_SCOPES = [
  'consultations:read',
  'consultations:write',
  'tokens:issue',
  'events:read',
  'recordings:read',
  'billing:read',
  'consents:write',
] as const;

const json = (field: string) => `node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).${field}'`;
const bearer = '-H "authorization: Bearer $KEY"';
const asJson = "-H 'content-type: application/json'";

/** The commands after `ROOMGATE=… SANDBOX=…`, run from the directory the service runs in. */
export const WALKTHROUGH: readonly string[] = [
  '# a tenant, and a key that can do every step below',
  'npx roomgate tenant create my-clinic --name "My clinic" --kind human',
  `KEY=$(npx roomgate key create --tenant my-clinic --scopes ${WALKTHROUGH_SCOPES.join(',')} | ${json('key')})`,
  '# live events of the tenant, in the background (Ctrl-C or kill %1 to stop)',
  `curl -sN $ROOMGATE/v1/events ${bearer} &`,
  "# the sandbox's own API key: its control API plays the participants",
  `SANDBOX_AUTH=$(node -p 'const c = require("./data/sandbox-credentials.json"); c.apiKeySid + ":" + c.apiKeySecret')`,
  '# a consultation: Roomgate creates its room in the sandbox (UniqueName rg-<id>)',
  `CONSULTATION=$(curl -s -X POST $ROOMGATE/v1/consultations ${bearer} ${asJson} -d '{"record":true}' | ${json('id')})`,
  'ROOM=rg-$CONSULTATION',
  '# access tokens: only identities Roomgate issued a token for may join',
  `curl -s -X POST $ROOMGATE/v1/consultations/$CONSULTATION/access-tokens ${bearer} ${asJson} -d '{"identity":"clin-7f3a","role":"clinician"}' > /dev/null`,
  `curl -s -X POST $ROOMGATE/v1/consultations/$CONSULTATION/access-tokens ${bearer} ${asJson} -d '{"identity":"pat-91c2","role":"patient"}' > /dev/null`,
  '# both consent to recording (the tenant records only those who do; the sandbox follows its Recording Rules)',
  `curl -s -X POST $ROOMGATE/v1/consultations/$CONSULTATION/consents ${bearer} ${asJson} -d '{"identity":"clin-7f3a","kind":"recording","decision":"given","textVersion":"rec-1"}' > /dev/null`,
  `curl -s -X POST $ROOMGATE/v1/consultations/$CONSULTATION/consents ${bearer} ${asJson} -d '{"identity":"pat-91c2","kind":"recording","decision":"given","textVersion":"rec-1","recordedBy":"clin-7f3a"}' > /dev/null`,
  '# both join, talk for ten minutes of sandbox time (Roomgate follows the sandbox clock), and leave',
  'curl -s -u $SANDBOX_AUTH -d Identity=clin-7f3a $SANDBOX/_sandbox/Rooms/$ROOM/Participants; echo',
  'curl -s -u $SANDBOX_AUTH -d Identity=pat-91c2 $SANDBOX/_sandbox/Rooms/$ROOM/Participants; echo',
  'curl -s -u $SANDBOX_AUTH -d AdvanceSeconds=600 $SANDBOX/_sandbox/Clock; echo',
  'curl -s -u $SANDBOX_AUTH -X POST $SANDBOX/_sandbox/Rooms/$ROOM/Participants/pat-91c2/Disconnect; echo',
  'curl -s -u $SANDBOX_AUTH -X POST $SANDBOX/_sandbox/Rooms/$ROOM/Participants/clin-7f3a/Disconnect; echo',
  '# end the room; wait until the sandbox delivered every callback and Roomgate billed it',
  `curl -s -X POST $ROOMGATE/v1/consultations/$CONSULTATION/end ${bearer} > /dev/null`,
  'curl -s -u $SANDBOX_AUTH -X POST $SANDBOX/_sandbox/Idle > /dev/null',
  `for i in $(seq 50); do curl -s $ROOMGATE/v1/billing-records ${bearer} | grep -q $CONSULTATION && break; sleep 0.2; done`,
  '# the record, its recordings and composition, and the bill',
  `curl -s $ROOMGATE/v1/consultations/$CONSULTATION ${bearer}; echo`,
  `curl -s $ROOMGATE/v1/consultations/$CONSULTATION/recordings ${bearer}; echo`,
  `curl -s $ROOMGATE/v1/billing-records ${bearer}; echo`,
];
