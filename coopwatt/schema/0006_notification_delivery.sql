-- Notification delivery (analytics/notify/outbox.py): a row that will never be sent is closed
-- with gave_up_at (and its last_error says why) so it leaves the due queue without pretending
-- to have been sent: too many failed attempts, the e-mail or MQTT channel switched off, a target
-- that is no longer a recipient of the alert's building, or an alert acknowledged before its
-- "opened" notice went out.
ALTER TABLE alert_notification ADD COLUMN gave_up_at timestamptz;

DROP INDEX IF EXISTS alert_notification_due_idx;
CREATE INDEX alert_notification_due_idx ON alert_notification (next_attempt_at)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;
