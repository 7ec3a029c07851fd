-- The audit log (core::audit): security events with their realm, time, source address
-- and request id. No foreign keys: an event outlives the realm, client or user it
-- names, until the purge deletes it by age. Never a token, secret or password: tokens
-- and grants are named by their ids.
CREATE TABLE audit_events (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    realm       TEXT,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT,
    client_id   TEXT,
    subject     TEXT,
    grant_type  TEXT,
    action      TEXT,
    target      TEXT,
    address     TEXT,
    request_id  TEXT,
    detail      TEXT
);
-- Listing a realm's events in id (time) order, optionally of one kind.
CREATE INDEX audit_events_realm ON audit_events (realm, id);
CREATE INDEX audit_events_realm_kind ON audit_events (realm, kind, id);
-- The purge by age.
CREATE INDEX audit_events_at ON audit_events (at);
