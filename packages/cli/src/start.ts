/** `npm start`: the local stack (SII simulator + DTE service + demo company) until Ctrl-C. */
import { startStack } from './stack.js';
import { untilInterrupted } from './local.js';

const stack = await startStack({
  ...(process.env.TIMBRE_SIM_PORT ? { simPort: Number(process.env.TIMBRE_SIM_PORT) } : {}),
  ...(process.env.PORT ? { servicePort: Number(process.env.PORT) } : {}),
  ...(process.env.TIMBRE_AI_PORT ? { aiPort: Number(process.env.TIMBRE_AI_PORT) } : {}),
  log: (line) => console.log(`· ${line}`),
});
console.log(`
Timbre is running (Ctrl-C to stop):
  DTE service     ${stack.serviceUrl}
  API docs        ${stack.serviceUrl}/docs
  SII simulator   ${stack.simUrl}
  AI service      ${stack.aiUrl}   (docs ${stack.aiUrl}/docs)
${stack.notices.map((n) => `  ${n}`).join('\n')}

Issue a factura (33) — folio, track id and the signed XML come back:

${stack.curl}

Then its SII status (the simulator accepts it after a moment):

curl -sS '${stack.serviceUrl}/api/v1/dte/status?rut_emisor=76086428-5&dte_type=33&folio=1' -H 'authorization: Bearer ${stack.token}'

Ask the AI service (the same token works there):

curl -sS -N -X POST '${stack.aiUrl}/api/ai/sii/chat' -H 'authorization: Bearer ${stack.token}' -H 'content-type: application/json' --data-raw '{"message": "¿Cuántos folios de factura me quedan?", "company_rut": "76086428-5"}'

More tokens: npx timbre token --company 76086428-5   ·   the offline tour: npm run tour
`);
await untilInterrupted();
console.log('stopping…');
await stack.close();
