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
//!   gateway (not with output downloads, not across a redirect); the TRACE output of every
//!   dependency (ureq, reqwest, hyper, h2, rustls, through the `log` bridge too), captured
//!   from real requests over HTTP/1.1 and HTTP/2, holds no key in any encoding.
//!
//! Its one module, [`leak`], is the search those tests use: [`leak::find_secret`] finds a
//! secret in plain text, hex (hexdumps split across lines too), decimal bytes, base64 and
//! percent-encoding.
#![deny(missing_docs)]

pub mod leak;
