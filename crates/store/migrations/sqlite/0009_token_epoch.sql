-- The token epoch: one counter, raised in the same transaction as every change that
-- can change what reading a stored token answers (TOKEN_GET: the token's row and its
-- client's, grant's and user's state). A reader that kept a token as read at epoch E
-- may answer from memory while the epoch is still E (store::hot_tokens); the triggers
-- make that hold for every writer of the file, this server, another process or the
-- CLI, whatever statement it runs.
CREATE TABLE token_epoch (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;
INSERT INTO token_epoch (id, value) VALUES (1, 0);

-- Refresh tokens are never kept in memory, so spending one (used_at) raises nothing:
-- refresh rotation stays off the counter. Revoking any token raises it.
CREATE TRIGGER tokens_raise_epoch_on_update AFTER UPDATE ON tokens
    WHEN OLD.kind <> 'refresh' OR OLD.revoked_at IS NOT NEW.revoked_at
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
-- The purge deletes expired tokens, which no reader answers for: those raise nothing.
CREATE TRIGGER tokens_raise_epoch_on_delete AFTER DELETE ON tokens
    WHEN OLD.kind <> 'refresh' AND (OLD.expires_at IS NULL OR OLD.expires_at >= unixepoch())
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_raise_epoch_on_update AFTER UPDATE ON clients
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_raise_epoch_on_delete AFTER DELETE ON clients
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
-- A deleted grant revokes nothing (a token naming no stored grant stands), so only
-- updates count.
CREATE TRIGGER grants_raise_epoch_on_update AFTER UPDATE ON grants
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
-- A user created under a token's subject gives the token roles it did not have.
CREATE TRIGGER users_raise_epoch_on_insert AFTER INSERT ON users
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER users_raise_epoch_on_update AFTER UPDATE ON users
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER users_raise_epoch_on_delete AFTER DELETE ON users
BEGIN
    UPDATE token_epoch SET value = value + 1 WHERE id = 1;
END;
