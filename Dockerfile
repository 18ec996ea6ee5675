# Training worker image used by docker-compose.yml. For a GPU worker, base it on a CUDA image and
# `npm install @tensorflow/tfjs-node-gpu` (it downloads libtensorflow, so the build needs internet).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
CMD ["node", "bin/durable-fit.cjs", "worker"]
