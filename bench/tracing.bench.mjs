// The cost of no-op tracing (docs/observability.md): the rounds of metrics.bench.mjs, comparing
// `tracing: false` with the default (@opentelemetry/api, no SDK installed), metrics off in both.
// Medians of at least 5 alternated rounds with their spread; a gap inside the spread is noise.
//   npm run bench -- tracing            (BENCH_ROUNDS=5 by default)
process.env.OPENPIPES_BENCH_FEATURE = 'tracing';
await import('./metrics.bench.mjs');
