import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

/** OpenAPI 3 from the route schemas; UI at /docs, JSON at /docs/json. */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        info: { title: 'Timbre DTE Service', version: '0.1.0', description: 'Issues, signs, sends and tracks Chilean DTEs (SII).' },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
          },
        },
        security: [{ bearer: [] }, { apiKey: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { fastify: '5.x', name: 'timbre-swagger' },
);
