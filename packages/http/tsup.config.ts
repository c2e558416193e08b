import { defineConfig } from 'tsup';

export default defineConfig({
  // One entry per public subpath; the framework adapters are separate files so importing the
  // handler never loads Express or Fastify.
  entry: {
    index: 'src/index.ts',
    node: 'src/node.ts',
    express: 'src/express.ts',
    fastify: 'src/fastify.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
});
