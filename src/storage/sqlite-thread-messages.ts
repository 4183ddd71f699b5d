/** The SQLite statement thread's protocol (structured-cloned). */
export interface SqliteThreadData {
  readonly file: string;
}

export interface SqliteStatementRequest {
  readonly id: number;
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

export interface SqliteStatementReply {
  readonly id: number;
  readonly inTransaction: boolean;
  readonly rows?: unknown[];
  readonly changes?: number;
  readonly lastInsertRowid?: number | bigint;
  /** SQLite's error, by its parts (an Error's own properties do not survive the clone). */
  readonly error?: { readonly name: string; readonly message: string; readonly code: string | undefined };
}
