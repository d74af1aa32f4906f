# Build stage: compile TypeScript, then drop dev dependencies. better-sqlite3 ships its native
# binding prebuilt for linux-x64 (glibc), so nothing is compiled with node-gyp.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY scripts ./scripts
COPY migrations ./migrations
RUN npm ci && npm prune --omit=dev

# Run stage: the compiled gateway, production dependencies and migrations, as a non-root user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATABASE_PATH=/data/dtpay.sqlite
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
# The database's folder belongs to the user the gateway runs as; a named volume mounted there starts
# with that owner. `dtpay` on PATH is the CLI, reading the same DATABASE_PATH as the gateway.
RUN mkdir -p /data && chown node:node /data \
    && ln -s /app/dist/src/cli/main.js /usr/local/bin/dtpay
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--max-semi-space-size=8", "dist/src/server.js"]
