-- Sign-in throttling counts failures only (login_attempts counted every attempt).
-- One row per counter: an (account, address) pair, an account across all addresses
-- (address = ''), or an address across all accounts (account = ''). The account is
-- the lower-cased username, the address an IPv4 address or an IPv6 /64.
-- A row whose window_start is more than the window (15 minutes) old counts nothing:
-- the next failure starts it over, so such rows can be deleted at any time.
DROP TABLE login_attempts;

CREATE TABLE sign_in_failures (
    realm        TEXT   NOT NULL,
    account      TEXT   NOT NULL,
    address      TEXT   NOT NULL,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    CONSTRAINT sign_in_failures_pkey PRIMARY KEY (realm, account, address)
);

-- For deleting rows whose window is over.
CREATE INDEX sign_in_failures_window ON sign_in_failures (window_start);
