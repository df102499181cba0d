//! Decoding any status, any headers and any body as any operation's response must not panic,
//! error values must print, and a decoded job must survive a serialize/decode round trip.
#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use varg_core::ops::{self, decode};
use varg_types::endpoint::Operation;
use varg_types::endpoint::ops::*;

#[derive(Debug, Arbitrary)]
struct Input {
    status: u16,
    op: u8,
    retry_after: Option<String>,
    retry_after_ms: Option<String>,
    request_id: Option<String>,
    x_cache: Option<String>,
    /// Seconds after the epoch for the caller's wall clock (HTTP-date Retry-After).
    now: u32,
    /// The response body.
    body: Vec<u8>,
}

fn check<O: Operation>(response: &http::Response<Bytes>, now: SystemTime)
where
    O::Response: std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned + PartialEq,
{
    match decode::<O>(response, now) {
        Ok((value, meta)) => {
            let _ = format!("{value:?} {meta:?}");
            // What we decoded must encode and decode to the same value.
            let json = serde_json::to_vec(&value).expect("a decoded value encodes");
            let again: O::Response =
                serde_json::from_slice(&json).expect("an encoded value decodes");
            assert_eq!(
                value,
                again,
                "round trip changed the value: {}",
                String::from_utf8_lossy(&json)
            );
        }
        Err(e) => {
            let _ = (
                e.to_string(),
                format!("{e:?}"),
                e.status(),
                e.is_retryable(),
                e.job_id(),
            );
            if !response.status().is_success() {
                assert_eq!(e.status(), Some(response.status()));
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let Ok(status) = http::StatusCode::from_u16(input.status) else {
        return;
    };
    let mut builder = http::Response::builder().status(status);
    for (name, value) in [
        ("retry-after", &input.retry_after),
        ("retry-after-ms", &input.retry_after_ms),
        ("x-request-id", &input.request_id),
        ("x-cache", &input.x_cache),
    ] {
        if let Some(v) = value {
            if let Ok(v) = http::HeaderValue::from_str(v) {
                builder = builder.header(name, v);
            }
        }
    }
    let Ok(response) = builder.body(Bytes::from(input.body)) else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(input.now));
    let _ = ops::ResponseMeta::from_parts(response.status(), response.headers());
    match input.op % 9 {
        0 => check::<GetJob>(&response, now),
        1 => check::<CreateImage>(&response, now),
        2 => check::<CancelJob>(&response, now),
        3 => check::<UploadFile>(&response, now),
        4 => check::<ListVoices>(&response, now),
        5 => check::<GetBalance>(&response, now),
        6 => check::<GetUsage>(&response, now),
        7 => check::<GetMe>(&response, now),
        _ => check::<ProbeMedia>(&response, now),
    }
});
