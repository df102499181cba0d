//! Workspace tasks for varg-rs.
//!
//! - [`export`]: JSON Schema (draft 2020-12) files per public request and
//!   response type, and an OpenAPI 3.1 document built from the
//!   `varg_types` endpoint table (`cargo xtask schema`).
//! - [`drift`]: the check of our OpenAPI against the vendor's documented
//!   one (`cargo xtask check-openapi --spec PATH`), with the
//!   [`allowlist`] that explains what we have beyond it.
#![deny(missing_docs)]

pub mod allowlist;
pub mod drift;
pub mod export;
pub mod spec;
