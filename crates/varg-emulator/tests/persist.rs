//! A state directory shared by emulators one after the other, and at the same time.

mod common;

use std::time::Duration;

use common::{Api, KEY, fast, fast_opts, parse_sse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use varg_emulator::Emulator;

#[tokio::test]
async fn jobs_outputs_uploads_cache_and_balance_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = Api::new(fast().state_dir(dir.path()).balance_cents(1000)).await;
    let body =
        json!({"model": "flux-pro", "prompt": "a lighthouse", "provider_options": fast_opts(10)});
    let job = first.create("/image", body.clone()).await;
    let id = job["job_id"].as_str().unwrap().to_owned();
    let done = first.wait(&id).await;
    let old_url = done["output"]["url"].as_str().unwrap().to_owned();
    let png = first.download(&old_url).await;
    let upload: Value = first
        .http
        .post(first.url("/files"))
        .bearer_auth(KEY)
        .body(b"hello state dir".to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let balance = first.emu.balance_cents();
    assert!(balance < 1000);
    first.emu.shutdown().await;

    let second = Api::new(fast().state_dir(dir.path())).await;
    assert_ne!(second.emu.origin(), "");
    let got = second.json(&format!("/jobs/{id}")).await;
    assert_eq!(got["status"], "completed");
    let new_url = got["output"]["url"].as_str().unwrap();
    assert!(new_url.starts_with(second.emu.origin()), "{new_url}");
    assert_eq!(second.download(new_url).await, png, "identical bytes");

    let stream = second
        .get(&format!("/jobs/{id}/stream"))
        .await
        .text()
        .await
        .unwrap();
    let (events, _) = parse_sse(&stream);
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["status"], "completed");

    // The upload: served at the new origin, and found by its hash.
    let file_id = upload["file_id"].as_str().unwrap();
    let ext = upload["url"].as_str().unwrap().rsplit('.').next().unwrap();
    let bytes = second
        .download(&format!("{}/u/{file_id}.{ext}", second.emu.origin()))
        .await;
    assert_eq!(bytes, b"hello state dir");
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(b"hello state dir")));
    let dedup: Value = second
        .http
        .post(second.url("/files"))
        .bearer_auth(KEY)
        .header("X-Content-Hash", &hash)
        .body(b"hello state dir".to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dedup["deduplicated"], true);
    assert_eq!(dedup["file_id"], file_id);

    // The cache, the balance and the usage carried over.
    let hit = second.post("/image", body).await;
    assert_eq!(hit.headers()["x-cache"], "HIT");
    let hit: Value = hit.json().await.unwrap();
    assert!(
        hit["output"]["url"]
            .as_str()
            .unwrap()
            .starts_with(second.emu.origin())
    );
    assert_eq!(second.emu.balance_cents(), balance);
    let usage = second.json("/usage").await;
    let ids: Vec<&str> = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.first(), Some(&id.as_str()));
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_job_in_flight_finishes_on_its_schedule_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let builder = || Emulator::builder().state_dir(dir.path()).time_scale(1.0);
    let first = Api::new(builder()).await;
    let slow = json!({"model": "kling-v3", "prompt": "slow", "provider_options":
        {"emulator": {"duration_ms": 1500, "queued_ms": 100}}});
    let quick = json!({"model": "kling-v3", "prompt": "quick", "provider_options":
        {"emulator": {"duration_ms": 50, "queued_ms": 10}}});
    let held = json!({"model": "kling-v3", "prompt": "held", "provider_options":
        {"emulator": {"hold": true, "queued_ms": 0}}});
    let slow = first.create("/video", slow).await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let quick = first.create("/video", quick).await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = first.create("/video", held).await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Gone before any of them finished.
    first.emu.shutdown().await;
    tokio::time::sleep(Duration::from_millis(150)).await;

    let second = Api::new(builder()).await;
    // Past its end: completed as soon as it is read.
    let quick = second.json(&format!("/jobs/{quick}")).await;
    assert_eq!(quick["status"], "completed");
    assert!(
        quick["output"]["url"]
            .as_str()
            .unwrap()
            .starts_with(second.emu.origin())
    );
    // Past its queue time, not its end.
    let now = second.json(&format!("/jobs/{slow}")).await;
    assert_eq!(now["status"], "processing");
    let stream = second
        .get(&format!("/jobs/{slow}/stream"))
        .await
        .text()
        .await
        .unwrap();
    let (events, _) = parse_sse(&stream);
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["status"], "completed");
    let held_now = second.json(&format!("/jobs/{held}")).await;
    assert_eq!(held_now["status"], "processing");
}

#[tokio::test]
async fn two_emulators_at_once_see_each_others_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let a = Api::new(fast().state_dir(dir.path())).await;
    let b = Api::new(fast().state_dir(dir.path())).await;
    let mut ids = Vec::new();
    for (n, api) in [&a, &b, &a, &b].into_iter().enumerate() {
        let job = api
            .create(
                "/image",
                json!({"model": "flux-pro", "prompt": format!("job {n}"), "provider_options": fast_opts(10)}),
            )
            .await;
        ids.push(job["job_id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        for api in [&a, &b] {
            let job = api.wait(id).await;
            assert_eq!(job["status"], "completed");
            let url = job["output"]["url"].as_str().unwrap();
            assert!(url.starts_with(api.emu.origin()), "{url}");
            assert!(!api.download(url).await.is_empty());
        }
    }
    let listed = |usage: Value| usage["usage"].as_array().unwrap().len();
    assert_eq!(listed(a.json("/usage").await), 4);
    assert_eq!(listed(b.json("/usage").await), 4);

    // A job held on one, cancelled on the other: the first sees it cancelled.
    let held = b
        .create(
            "/image",
            json!({"model": "flux-pro", "prompt": "held", "provider_options": {"emulator": {"hold": true, "queued_ms": 0}}}),
        )
        .await;
    let held = held["job_id"].as_str().unwrap();
    let resp = a
        .http
        .delete(a.url(&format!("/jobs/{held}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        b.json(&format!("/jobs/{held}")).await["status"],
        "cancelled"
    );
    assert_eq!(
        a.json("/jobs/job_000000000000").await["error"],
        "NotFoundError"
    );
    assert_eq!(a.get("/jobs/..%2Faccount").await.status(), 404);
}
