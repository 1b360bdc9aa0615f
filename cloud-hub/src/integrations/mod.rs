//! Outbound integrations with the business's other services. Each is an HTTP client behind a
//! trait, with a timeout per call, retries with backoff driven by its worker, and a circuit
//! breaker so a service that is down is not hammered (and its callers learn it at once).

pub mod breaker;
pub mod notifications;
pub mod outbound;
pub mod payments;
pub mod registry;
pub mod services;
pub mod treasury;
