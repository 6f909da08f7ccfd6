# xdsim as an image: the CLI (`xdsim agents` for deploy/k8s/agents-job.yaml, and serve, run, eds,
# lb, report) with runtime dependencies only. There is no build step: bin/xdsim.js loads the
# TypeScript sources through tsx, which is a runtime dependency for that reason.
#
#   docker build -t registry.example.com/xdsim:0.1.0 .
#   docker run --rm registry.example.com/xdsim:0.1.0 agents --help
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY bin/ bin/
COPY src/ src/
COPY proto/ proto/
# The perf gate's statistics, which `xdsim report compare` uses.
COPY bench/gate/ bench/gate/
COPY scenarios/ scenarios/
COPY examples/ examples/

# node:20-slim's unprivileged "node" user, given by number so that Kubernetes' runAsNonRoot can
# verify it. Nothing under /app is writable by it; tsx keeps its compile cache under /tmp.
USER 1000:1000

ENTRYPOINT ["node", "/app/bin/xdsim.js"]
CMD ["--help"]
