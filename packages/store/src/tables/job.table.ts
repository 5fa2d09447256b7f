import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** The embedded durable job queue (used when no QUEUE_URL is configured). */
export interface JobTable {
  id: Generated<number>;
  queue: string;
  /** JSON. */
  payload: string;
  /** Publishing the same (queue, dedupe_key) again keeps the first job. */
  dedupe_key: string | null;
  status: 'ready' | 'done' | 'dead';
  /** ISO-8601 UTC: not before. */
  run_at: string;
  attempts: Generated<number>;
  max_attempts: number;
  /** ISO-8601 UTC: a consumer holds the job until then. */
  locked_until: string | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export type JobRow = Selectable<JobTable>;
export type NewJobRow = Insertable<JobTable>;
export type JobRowUpdate = Updateable<JobTable>;
