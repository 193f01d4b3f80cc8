-- A manager may mark an alert resolved (dashboard.actions); if the condition still holds, the
-- analytics job opens a new alert, which names the one resolved by hand so the page can say so.
ALTER TABLE alert ADD COLUMN reopens_alert_id bigint REFERENCES alert ON DELETE SET NULL;
-- The manager's history: resolved alerts of a building, most recently resolved first.
CREATE INDEX alert_resolved_idx ON alert (resolved_at DESC) WHERE status = 'resolved';
