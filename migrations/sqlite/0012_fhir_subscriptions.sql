-- FHIR Subscriptions (rest-hook, empty payload) are webhook endpoints that send no body: the
-- receiver reads what changed with its own token. Their criteria and reason, as JSON; NULL for
-- ordinary endpoints, which send the event.
ALTER TABLE webhook_endpoints ADD COLUMN subscription TEXT;
