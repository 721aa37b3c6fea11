//! Billing in one place: the Stripe event's way from the webhook to the database.
//!
//! - [`signature`] (pure): `Stripe-Signature` parsing, tolerance and comparison.
//! - [`verify`]: the webhook's signature check (HMAC in the wasm), giving a [`verify::VerifiedEvent`].
//! - [`policy`] (pure): prices to plans, credit packs, invoice grants, retry backoff.
//! - [`apply`]: one event applied through its SQL function, or Stripe's current state when it is stale.
//!
//! The routes are `crate::api::billing`; the queue consumer `crate::queues::stripe_webhooks`; the cron
//! re-drive `crate::cron`.

pub mod apply;
pub mod policy;
pub mod signature;
pub mod verify;
