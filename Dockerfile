# Training worker image used by docker-compose.yml. For a GPU worker, base it on a CUDA image and
# `npm install @tensorflow/tfjs-node-gpu` (it downloads libtensorflow, so the build needs internet).
# It runs the compiled package, as an installed durable-fit does: no TypeScript source, no tsx.
# It runs as the image's unprivileged `node` user; the app files stay root-owned, so a compromised
# worker cannot rewrite the code it runs. .dockerignore keeps local state, caches and .env out.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev && rm -rf src workflows activities test bench scripts
USER node
ENV HOME=/home/node
CMD ["node", "bin/durable-fit.cjs", "worker"]
