/** Test support for the store-kit tests: an attempt as the engine records a delivery. */
import type { DeliveryAttempt, RecordedExchange } from '../schemas.js';

/** A delivered attempt (pipe version 2, destination version 3) with its one exchange. */
export function deliveredAttempt(
  number: number,
  request: RecordedExchange['request'],
  response: RecordedExchange['response'],
): DeliveryAttempt {
  const at = '2026-05-04T10:00:00.000Z';
  return {
    number,
    status: 'delivered',
    started_at: at,
    duration_ms: 12,
    pipe_version: 2,
    destination_version: 3,
    request,
    response,
    error: null,
    exchanges: [{ request, response, error: null, started_at: at, duration_ms: 12 }],
    logs: [],
  };
}
