-- Bumped by every change to a client, so that a server's cached copy of a client can be
-- checked against the database in the same statement or transaction that relies on it.
ALTER TABLE clients ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
