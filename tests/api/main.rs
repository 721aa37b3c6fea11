//! End-to-end tests against one shared local stack. Each file is one area of the contract.

mod auth;
mod batches;
mod cors;
mod credits;
mod envelope;
mod health;
mod hostile;
mod jobs;
mod openapi;
