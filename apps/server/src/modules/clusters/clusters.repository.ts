import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export class ClustersRepository {
  constructor(readonly db: Kysely<Database>) {}
}
