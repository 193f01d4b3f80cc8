-- Sessions that logout really ends, and a login throttle that slows attackers without
-- locking the owner out (dashboard/auth.py, dashboard/throttle.py).

-- Every session cookie carries the account's session version from its login; the
-- dashboard checks it on every request. Logout raises it, which ends every session of
-- the account (a cookie copied before logout is worth nothing after it). A password
-- change ends them too (password_changed_at), and so does deleting the account.
ALTER TABLE account ADD COLUMN session_version integer NOT NULL DEFAULT 0;

-- An attempt refused because its user name or address was in a pause is kept for the
-- record but never counted as a failure: hammering during a pause does not lengthen it.
ALTER TABLE login_attempt ADD COLUMN refused boolean NOT NULL DEFAULT false;
CREATE INDEX login_attempt_pair_idx ON login_attempt (username, remote_addr, attempted_at);
