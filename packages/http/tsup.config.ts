import { packageBuild } from '../../tsup.base.js';

export default packageBuild({
  // One entry per public subpath; the framework adapters are separate files so importing the
  // handler never loads Express or Fastify.
  entry: {
    index: 'src/index.ts',
    node: 'src/node.ts',
    express: 'src/express.ts',
    fastify: 'src/fastify.ts',
  },
  splitting: true,
});
