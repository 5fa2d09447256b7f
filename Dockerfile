# syntax=docker/dockerfile:1
# The DTE service (and, with another command, the AI service or the SII simulator): see compose.yaml.
# Build: docker build -t timbre/dte:local .   Run: see services/dte/README.md "Production shape".

# --- build: install everything, compile, then drop the dev dependencies ---------------------------
FROM node:20-bookworm-slim AS build
# better-sqlite3 (the embedded database driver) compiles itself when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# `npm ci` also runs the root `prepare` script (the build); `npm run build` keeps the step explicit
# (tsc -b: a no-op when up to date).
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
# xmllint / xmlsec1: the same XML tools the test suite and CI use, for diagnosing documents in place.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libxml2-utils xmlsec1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    PORT=8001 \
    HOST=0.0.0.0
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 8001 8002
# Exec form: node is PID 1 and receives SIGTERM (server.ts closes within 10 s).
CMD ["node", "services/dte/dist/server.js"]
