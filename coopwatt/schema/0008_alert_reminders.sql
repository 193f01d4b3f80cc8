-- Reminders: an open alert nobody has acknowledged is notified again, as 'reminder-1', 'reminder-2', …
-- (one row per reminder, channel and target, so each is still sent exactly once).
ALTER TABLE alert_notification DROP CONSTRAINT alert_notification_event_check;
ALTER TABLE alert_notification ADD CONSTRAINT alert_notification_event_check
    CHECK (event IN ('opened', 'resolved') OR event ~ '^reminder-[1-9][0-9]*$');
