/**
 * Each pipe's last error: its newest delivery that is failed, dead or retrying, with the error and
 * when it happened (`Store.newestDeliveries`: one indexed "newest first, limit 1" read per pipe and
 * status, never a scan of the history). What the console's overview polls and
 * `GET /api/last-errors` answers.
 */
import { z } from 'zod';
import type { ConfigCache } from './config.js';
import { type DeliveryStatus, deliveryErrorSchema } from './schemas.js';
import type { Store } from './store.js';

/** The statuses whose records carry an error. */
export const errorStatuses = ['failed', 'dead', 'retrying'] as const satisfies readonly DeliveryStatus[];

export const lastErrorsSchema = z.object({
  data: z
    .array(
      z.object({
        pipe_id: z.string(),
        pipe: z.string().describe("The pipe's name."),
        destination_id: z.string().describe('The destination the delivery went to.'),
        destination: z.string().describe("The destination's name (its id when it no longer exists)."),
        delivery_id: z.string().describe('The delivery record: `GET /api/event-deliveries/{delivery_id}`.'),
        status: z.enum(errorStatuses),
        error: deliveryErrorSchema
          .nullable()
          .describe("The latest attempt's error (redacted); null when the record was erased."),
        created_at: z.string().describe('When the delivery was created (its event received).'),
        updated_at: z.string().describe('When it entered its status: the time of the error.'),
      }),
    )
    .describe(
      "One row per pipe that has a failed, dead or retrying delivery: the newest of them (by creation), newest first, with the pipe's and the destination's names. A destination's last error (several pipes may share it) is the first row with its destination_id.",
    ),
});
export type LastErrors = z.infer<typeof lastErrorsSchema>;

/** The last error of every configured pipe (pipes without one are left out). */
export async function lastErrors(store: Store, config: ConfigCache): Promise<LastErrors> {
  const current = await config.current();
  const rows = await store.newestDeliveries({
    pipeIds: [...current.pipes.keys()],
    statuses: [...errorStatuses],
  });
  return {
    data: rows.map((row) => ({
      pipe_id: row.pipe_id,
      // Only configured pipes are read, so the name is there; the id stands in all the same.
      pipe: current.pipes.get(row.pipe_id)?.name ?? row.pipe_id,
      destination_id: row.destination_id,
      destination: current.destinations.get(row.destination_id)?.name ?? row.destination_id,
      delivery_id: row.id,
      status: row.status as (typeof errorStatuses)[number],
      error: (row.detail.error as LastErrors['data'][number]['error']) ?? null,
      created_at: row.created_at,
      updated_at: row.updated_at,
    })),
  };
}
