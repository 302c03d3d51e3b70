-- Invitations by e-mail, sent from an outbox: the row is written in the transaction that makes
-- the link, so a mail is never lost; a sender claims due rows with a lease (several replicas),
-- marks each sent as soon as the SMTP server took it, and retries a failure later. The
-- recipient, subject and body are sealed: the body holds the link, which is a credential.
CREATE TABLE mail_outbox (
    id               BLOB PRIMARY KEY,
    parent_link_id   BLOB NOT NULL REFERENCES parent_links (id),
    sealed           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    sent_at          TEXT,
    last_error       TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);
