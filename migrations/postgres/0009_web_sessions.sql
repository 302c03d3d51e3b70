-- Sessions of the web pages (tower-sessions): a staff member after login, or a parent link
-- exchanged for a short-lived cookie. The data is the session's own (who, a CSRF token); it
-- holds no child data. Expired rows are deleted by the session store's sweep.
CREATE TABLE web_sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    data        BYTEA NOT NULL,
    expiry_date TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expiry_date);
