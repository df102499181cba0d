//! # varg-faults
//!
//! Not a library: the home of the tests that exercise both clients (`varg-async` and
//! `varg-blocking`) side by side against the emulator.
//!
//! - `tests/fault_matrix.rs`: 1,000 jobs (500 per client) with 20 % of all requests given a
//!   random fault of every kind the emulator offers (but `ResetAfterWork`, covered by a shared
//!   client scenario); every job must end in its true terminal
//!   state and no job may be created twice.
//! - `tests/secret_hygiene.rs`: the API key and the provider (BYOK) keys never appear in
//!   `Debug`, `Display`, error messages or tracing output, and are sent to no host but the
//!   gateway (not with output downloads, not across a redirect).
#![deny(missing_docs)]
