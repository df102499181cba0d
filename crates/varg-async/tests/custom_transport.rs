//! The client over a custom transport (a closure): no network at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use varg_async::varg_core::transport::{AsyncBody, AsyncResponseBody};
use varg_async::{Client, Error, RetryPolicy, TransportError, TransportErrorKind, types};

#[tokio::test]
async fn closure_transport_sees_every_attempt_and_headers_come_back() {
    let seen = Arc::new(Mutex::new(Vec::<(String, String, Option<String>)>::new()));
    let log = seen.clone();
    let transport = move |req: http::Request<AsyncBody>| {
        let log = log.clone();
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let n = {
                let mut log = log.lock().unwrap();
                log.push((req.method().to_string(), req.uri().path().to_owned(), auth));
                log.len()
            };
            if n == 1 {
                return Err(TransportError::new(TransportErrorKind::Connect, "refused"));
            }
            Ok(http::Response::builder()
                .status(200)
                .header("x-request-id", "req_42")
                .header("x-custom", "a")
                .header("x-custom", "b")
                .body(AsyncResponseBody::from_bytes(
                    r#"{"job_id":"job_1","status":"completed","output":{"url":"http://127.0.0.1:9/o/x.png"}}"#,
                ))
                .unwrap())
        }
    };
    let client = Client::builder()
        .api_key("varg_k")
        .base_url("http://127.0.0.1:9/v1")
        .retry(RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        })
        .transport(transport)
        .build()
        .unwrap();
    let request = types::ImageRequest::new(types::models::image::FLUX_PRO, "x");
    let (job, meta) = client
        .send::<types::endpoint::ops::CreateImage>(&request)
        .await
        .unwrap();
    assert_eq!(job.job_id.as_str(), "job_1");
    assert_eq!(meta.request_id.as_deref(), Some("req_42"));
    let custom: Vec<_> = meta.headers.get_all("x-custom").iter().collect();
    assert_eq!(custom.len(), 2);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "a refused connection is retried even for a POST"
    );
    assert_eq!(seen[1].0, "POST");
    assert_eq!(seen[1].1, "/v1/image");
    assert_eq!(seen[1].2.as_deref(), Some("Bearer varg_k"));

    // A terminal job needs no request to wait for.
    let done = client
        .wait_for(job, varg_async::WaitOptions::new())
        .await
        .unwrap();
    assert_eq!(done.status, types::JobStatus::Completed);

    // Missing key is a configuration error.
    let err = Client::builder().build().unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
}
