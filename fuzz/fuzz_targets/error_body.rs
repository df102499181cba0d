//! An error body from any JSON must decode without panicking, and what it decodes to must
//! encode and decode to the same thing. `api_error` must accept any body.
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use varg_core::ops::api_error;
use varg_types::ErrorBody;

fuzz_target!(|data: &[u8]| {
    // Through the serde path and through the Value path.
    let via_serde = serde_json::from_slice::<ErrorBody>(data);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let via_value = ErrorBody::from_value(value);
        if let Ok(b) = &via_serde {
            assert_eq!(Some(b), via_value.as_ref(), "serde and from_value disagree");
        }
        if let Some(body) = via_value {
            let _ = format!("{body:?}");
            if let Some(code) = &body.code {
                let _ = code.documented_status();
            }
            let json = serde_json::to_value(&body).expect("an error body encodes");
            let again = ErrorBody::from_value(json.clone()).expect("an encoded error body decodes");
            assert_eq!(body.code, again.code, "code changed: {json}");
            assert_eq!(body.message, again.message, "message changed: {json}");
            assert_eq!(body.field, again.field, "field changed: {json}");
            assert_eq!(body.provider, again.provider, "provider changed: {json}");
        }
    }
    for status in [400u16, 401, 402, 404, 429, 500, 502, 503] {
        let status = http::StatusCode::from_u16(status).expect("valid status");
        let e = api_error(
            status,
            &http::HeaderMap::new(),
            data,
            SystemTime::UNIX_EPOCH,
        );
        let _ = (e.to_string(), format!("{e:?}"));
        assert_eq!(e.status(), Some(status));
    }
});
