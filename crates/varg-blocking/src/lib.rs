//! Blocking client for the varg gateway.
#![deny(missing_docs)]

pub mod transport;
