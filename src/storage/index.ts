export { openStore, parseDatabaseUrl, type DatabaseTarget, type OpenStoreOptions } from './open-store.js';
export type { Store, StoreTransaction } from './store.js';
export type * from './schema.js';
export { capabilitiesFor, capabilitiesOf, type DialectCapabilities, type Engine } from './dialect-capabilities.js';
export { GroupCommitter, type GroupCommitterOptions, type GroupCommitterStats } from './group-committer.js';
export { insertCallbacks } from './inbox-repository.js';
export { insertIfAbsent } from './insert-if-absent.js';
export { newId } from './ids.js';
export { eraseSubject, purgeErasedBytes, type ErasureCounts, type SubjectErasure } from './subject-erasure-repository.js';
export {
  BatchFailedError,
  StoreClosedError,
  StoreConstraintError,
  StoreError,
  StoreUnavailableError,
  UnsupportedDatabaseUrlError,
  isStoreUnavailable,
  redactDatabaseUrl,
  type ConstraintKind,
  type StoreErrorCode,
} from './store-errors.js';
