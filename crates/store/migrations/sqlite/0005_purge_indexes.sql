-- Storage that does not only grow: the background purge deletes expired rows in small
-- batches, each an index range scan on these indexes, and pending authorization
-- requests are capped per browser session and per client address.

-- Partial: a token without an expiry is never purged.
CREATE INDEX tokens_expires ON tokens (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at);

-- The address the request came from (IPv6 by /64), counted against the per-address
-- cap; NULL when the server saw no peer address.
ALTER TABLE authorization_requests ADD COLUMN client_addr TEXT;
CREATE INDEX authorization_requests_addr ON authorization_requests (client_addr, expires_at)
    WHERE client_addr IS NOT NULL;
-- The per-session cap keeps a session's newest requests (ids are time-ordered).
CREATE INDEX authorization_requests_session ON authorization_requests (session_hash, id);
