//! HTTP-level tests against the real application, on SQLite and PostgreSQL.

mod common;

mod access_log;
mod auth_tokens;
mod authz;
mod children;
mod consent;
mod consultations;
mod defects;
mod faults;
mod fhir;
mod figures;
mod first_week;
mod http_basics;
mod layers;
mod mail;
mod operations;
mod registry;
mod replicas;
mod schema;
mod smart;
mod specialist_work;
mod web;
mod web_desks;
mod webhooks;
mod workflow;
