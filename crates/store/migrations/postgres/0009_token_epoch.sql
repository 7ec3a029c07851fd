-- The token epoch: one counter, raised in the same transaction as every change that
-- can change what reading a stored token answers (TOKEN_GET: the token's row and its
-- client's, grant's and user's state). A reader that kept a token as read at epoch E
-- may answer from memory while the epoch is still E (store::hot_tokens); the triggers
-- make that hold for every instance and every writer, whatever statement it runs. The
-- counter is a row, not a sequence: a sequence moves before its transaction commits,
-- and a reader would keep a token at an epoch that its revocation never changes again.
--
-- The triggers are deferred to commit: the counter's row lock is then the last lock a
-- transaction takes, so a transaction holding it never waits for another lock and two
-- writers cannot deadlock over it (raised at the statement, a user's deletion holding
-- the counter while it waits for a grant row, and a grant's revocation holding that row
-- while it waits for the counter, would).
CREATE TABLE token_epoch (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);
INSERT INTO token_epoch (id, value) VALUES (1, 0);

-- Once per transaction: a batch revoking 64 tokens fires 64 times, and one new value is
-- all a reader needs to see (each update would also leave a dead row version behind).
-- The flag is a transaction-local setting, gone at commit or rollback.
CREATE FUNCTION raise_token_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('portcullis.token_epoch_raised', true) IS DISTINCT FROM 'yes' THEN
        UPDATE token_epoch SET value = value + 1 WHERE id = 1;
        PERFORM set_config('portcullis.token_epoch_raised', 'yes', true);
    END IF;
    RETURN NULL;
END
$$;

-- Refresh tokens are never kept in memory, so spending one (used_at) raises nothing:
-- refresh rotation stays off the counter. Revoking any token raises it.
CREATE CONSTRAINT TRIGGER tokens_raise_epoch_on_update AFTER UPDATE ON tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.kind <> 'refresh' OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION raise_token_epoch();
-- The purge deletes expired tokens, which no reader answers for: those raise nothing.
CREATE CONSTRAINT TRIGGER tokens_raise_epoch_on_delete AFTER DELETE ON tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.kind <> 'refresh'
          AND (OLD.expires_at IS NULL OR OLD.expires_at >= extract(epoch FROM statement_timestamp())))
    EXECUTE FUNCTION raise_token_epoch();
CREATE CONSTRAINT TRIGGER clients_raise_epoch AFTER UPDATE OR DELETE ON clients
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION raise_token_epoch();
-- A deleted grant revokes nothing (a token naming no stored grant stands), so only
-- updates count.
CREATE CONSTRAINT TRIGGER grants_raise_epoch AFTER UPDATE ON grants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION raise_token_epoch();
-- A user created under a token's subject gives the token roles it did not have.
CREATE CONSTRAINT TRIGGER users_raise_epoch AFTER INSERT OR UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION raise_token_epoch();
