//! The model catalogue as the CLI uses it: a warning for a model the SDK does not know.
//!
//! The warning never stops the request: the gateway's catalogue grows weekly, faster than
//! the SDK's, so a model we do not know may well be a new one. The gateway has the last word.

use serde_json::json;
use varg_types::{Capability, ModelId};

use crate::output::Printer;

/// Warns on stderr (or as a `warning` JSON line) when `model` is not in the catalogue for
/// `capability`, with what it is instead or the closest documented id.
pub fn warn_unknown(printer: Printer, model: &ModelId, capability: &Capability) {
    if let Err(unknown) = varg_types::model::check(model.as_str(), capability) {
        let message = format!(
            "{unknown} (it is not in the catalogue, see `varg models {}`; sending it anyway)",
            capability.as_str()
        );
        printer.event(json!({
            "event": "warning",
            "message": message,
            "model": model,
            "suggestion": unknown.suggested_id(),
        }));
        printer.note(&format!("warning: {message}"));
    }
}
