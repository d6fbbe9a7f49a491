// Runs against the real PostgreSQL server on 127.0.0.1:5432 (trust auth), in a database created
// for this run and dropped afterwards.
import { createScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { PostgresStore } from './postgres.js';
import { storeContract } from './store.contract.js';

storeContract('postgres', async () => {
  const db = await createScratchDatabase();
  return {
    open: async () => new PostgresStore(db.url),
    cleanup: () => db.drop(),
  };
});
