// Child process for the cross-process folio test: imports the BUILT allocator (dist), waits for a
// common start time so that the processes really run at once, allocates COUNT folios one after
// the other and prints them as JSON.
import { setTimeout as sleep } from 'node:timers/promises';
import { allocateFolio, createDb } from '../dist/index.js';

const [url, rutEmisor, tipo, count, fecha, startAt] = process.argv.slice(2);
const db = createDb({ url, busyTimeoutMs: 30_000 });
await db.selectFrom('caf').select('id').limit(1).execute(); // open the file before the barrier
const wait = Number(startAt) - Date.now();
if (wait > 0) await sleep(wait);
const folios = [];
for (let i = 0; i < Number(count); i++) {
  folios.push((await allocateFolio(db, { rutEmisor, tipoDte: Number(tipo), fecha })).folio);
}
await db.destroy();
process.stdout.write(JSON.stringify(folios));
