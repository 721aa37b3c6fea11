//! End-to-end tests against one shared local stack. Each file is one area of the contract.

mod auth;
mod credits;
mod cors;
mod envelope;
mod health;
mod jobs;
mod openapi;
