import { createDb, createSecretBox, migrateToLatest, type Database, type SecretBox } from '@timbre/store';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>;
    secretBox: SecretBox;
  }
}

/** The database (migrated on start) and the SecretBox that seals CAF keys and certificates. */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    const db = createDb({ url: config.databaseUrl, ...(config.databaseSearchPath ? { searchPath: config.databaseSearchPath } : {}) });
    app.addHook('onClose', async () => db.destroy());
    const schema = config.databaseSearchPath?.split(',')[0];
    await migrateToLatest(db, schema ? { schema } : {});
    app.decorate('db', db);
    app.decorate('secretBox', createSecretBox(config.masterKey));
  },
  { fastify: '5.x', name: 'timbre-db' },
);
