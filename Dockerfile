# syntax=docker/dockerfile:1
# OpenPipes: `openpipes serve` in a container. docs/deployment.md ("Containers") says how to run it.
# Our CI machines cannot build images (no registry access), so this file is kept simple enough to
# read as correct; build it with `docker build -t openpipes .` where Docker runs.

# --- build: compile the packages, then keep only what the CLI needs at run time -------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 downloads a prebuilt binary; the tools build it from source where none matches.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# The npm of the lockfile (package.json "packageManager").
RUN npm install -g npm@11.19.1
COPY . .
RUN npm ci && npx turbo run build --filter=@openpipes/cli...
# Production dependencies of the CLI only (the workspace packages are linked into node_modules).
RUN rm -rf node_modules packages/*/node_modules \
  && npm ci --omit=dev --workspace=@openpipes/cli \
  && mkdir -p /out/packages \
  && for p in sandbox core console browser http store-sqlite store-postgres destinations cli; do \
       mkdir -p /out/packages/$p && cp -r packages/$p/package.json packages/$p/dist /out/packages/$p/ \
       && if [ -d packages/$p/node_modules ]; then cp -r packages/$p/node_modules /out/packages/$p/; fi; \
     done \
  && cp -r packages/cli/bin /out/packages/cli/ \
  && cp -r package.json node_modules /out/

# --- runtime: Node's slim image, no build tools, not root ------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    OPENPIPES_HOST=0.0.0.0 \
    PORT=8080 \
    OPENPIPES_LOG_FORMAT=json \
    OPENPIPES_DB=/data/openpipes.db
WORKDIR /app
COPY --from=build /out/ /app/
# SQLite (the default store) keeps its file, and on a first start its generated credentials, here.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
# Liveness: the process answers. Readiness (/readyz) is for the orchestrator's load balancing.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=4 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `openpipes serve` handles SIGTERM itself (stop accepting, finish in-flight deliveries within
# OPENPIPES_GRACE_MS, exit 0), so node runs as PID 1 without an init.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/packages/cli/bin/openpipes.js"]
CMD ["serve"]
