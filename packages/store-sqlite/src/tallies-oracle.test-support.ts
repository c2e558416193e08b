/**
 * The oracle of tallies.property.test.ts and tallies-engine.test.ts: the five triggers migration 14
 * dropped (migrations 4 and 12), re-created on shadow tables, and the comparison of the store's
 * tables with them and with a recount of `deliveries`.
 */
import type Database from 'better-sqlite3';
import { expect } from 'vitest';

export const finals = "('delivered', 'filtered', 'failed', 'dead')";
// The triggers of migrations 4 and 12, writing to shadow tables; plus what prune.ts does to the
// totals (a DELETE takes its final rows back) and pruneDeliveryCounts to the rollup.
export const shadowSql = `
CREATE TABLE ref_rollup (pipe_id TEXT, minute TEXT, destination_id TEXT, status TEXT, count INTEGER,
  PRIMARY KEY (pipe_id, minute, destination_id, status)) WITHOUT ROWID;
CREATE TABLE ref_totals (destination_id TEXT, pipe_id TEXT, status TEXT, count INTEGER,
  PRIMARY KEY (destination_id, pipe_id, status)) WITHOUT ROWID;
INSERT INTO ref_rollup SELECT pipe_id, minute, destination_id, status, count FROM delivery_rollup;
INSERT INTO ref_totals SELECT destination_id, pipe_id, status, count FROM delivery_totals;
CREATE TRIGGER ref_rollup_created AFTER INSERT ON deliveries BEGIN
  INSERT INTO ref_rollup VALUES (NEW.pipe_id, substr(NEW.updated_at, 1, 16), NEW.destination_id, NEW.status, 1)
  ON CONFLICT (pipe_id, minute, destination_id, status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER ref_rollup_changed AFTER UPDATE OF status ON deliveries WHEN NEW.status IS NOT OLD.status BEGIN
  INSERT INTO ref_rollup VALUES (NEW.pipe_id, substr(NEW.updated_at, 1, 16), NEW.destination_id, NEW.status, 1)
  ON CONFLICT (pipe_id, minute, destination_id, status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER ref_totals_created AFTER INSERT ON deliveries WHEN NEW.status IN ${finals} BEGIN
  INSERT INTO ref_totals VALUES (NEW.destination_id, NEW.pipe_id, NEW.status, 1)
  ON CONFLICT (destination_id, pipe_id, status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER ref_totals_left AFTER UPDATE OF status, pipe_id, destination_id ON deliveries
WHEN OLD.status IN ${finals} AND (NEW.status IS NOT OLD.status OR NEW.pipe_id IS NOT OLD.pipe_id
  OR NEW.destination_id IS NOT OLD.destination_id) BEGIN
  UPDATE ref_totals SET count = count - 1
  WHERE destination_id = OLD.destination_id AND pipe_id = OLD.pipe_id AND status = OLD.status;
END;
CREATE TRIGGER ref_totals_entered AFTER UPDATE OF status, pipe_id, destination_id ON deliveries
WHEN NEW.status IN ${finals} AND (NEW.status IS NOT OLD.status OR NEW.pipe_id IS NOT OLD.pipe_id
  OR NEW.destination_id IS NOT OLD.destination_id) BEGIN
  INSERT INTO ref_totals VALUES (NEW.destination_id, NEW.pipe_id, NEW.status, 1)
  ON CONFLICT (destination_id, pipe_id, status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER ref_totals_deleted AFTER DELETE ON deliveries WHEN OLD.status IN ${finals} BEGIN
  UPDATE ref_totals SET count = count - 1
  WHERE destination_id = OLD.destination_id AND pipe_id = OLD.pipe_id AND status = OLD.status;
END;
CREATE TRIGGER ref_rollup_pruned AFTER DELETE ON delivery_rollup BEGIN
  DELETE FROM ref_rollup WHERE pipe_id = OLD.pipe_id AND minute = OLD.minute
    AND destination_id = OLD.destination_id AND status = OLD.status;
END;`;

/** Real tables against the shadow ones and the totals against a recount of `deliveries`. */
export function compare(check: Database.Database, label: string) {
  const rows = (sql: string) => check.prepare(sql).all();
  const rollup = 'SELECT pipe_id, minute, destination_id, status, count FROM';
  const order = 'WHERE count <> 0 ORDER BY 1, 2, 3, 4';
  expect(rows(`${rollup} delivery_rollup ${order}`), `${label}: rollup`).toEqual(
    rows(`${rollup} ref_rollup ${order}`),
  );
  const totals = 'SELECT destination_id, pipe_id, status, count FROM';
  expect(rows(`${totals} delivery_totals ${order}`), `${label}: totals`).toEqual(
    rows(`${totals} ref_totals ${order}`),
  );
  expect(rows(`${totals} delivery_totals ${order}`), `${label}: totals recounted`).toEqual(
    rows(`SELECT destination_id, pipe_id, status, count(*) AS count FROM deliveries
          WHERE status IN ${finals} GROUP BY 1, 2, 3 HAVING count(*) <> 0 ORDER BY 1, 2, 3`),
  );
}
