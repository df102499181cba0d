//! `varg-emulator`: runs the local varg gateway until interrupted.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use varg_emulator::{Fault, RandomFaults, SseMode};

/// A local varg gateway for offline development and tests.
#[derive(Debug, Parser)]
#[command(name = "varg-emulator", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787", env = "VARG_EMULATOR_ADDR")]
    addr: SocketAddr,
    /// Seed of the random generator used by fault injection.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Accept only this API key (default: any key starting with `varg_`).
    #[arg(long, env = "VARG_EMULATOR_API_KEY")]
    api_key: Option<String>,
    /// Starting balance in cents.
    #[arg(long, default_value_t = 100_000)]
    balance_cents: i64,
    /// Multiplies every job duration (0 finishes jobs at once).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Seconds between SSE keepalive comments.
    #[arg(long, default_value_t = 15.0)]
    keepalive_secs: f64,
    /// Requests per minute per key before 429.
    #[arg(long)]
    requests_per_minute: Option<u32>,
    /// Concurrent jobs per key before 429.
    #[arg(long)]
    concurrent_jobs: Option<u32>,
    /// Serve every output as a streamed body of this many bytes.
    #[arg(long)]
    output_size: Option<u64>,
    /// Longest time in seconds an SSE connection stays open.
    #[arg(long, default_value_t = 600.0)]
    max_stream_secs: f64,
    /// What `GET /v1/jobs/{id}/stream` does.
    #[arg(long, value_enum, default_value_t = Sse::Enabled)]
    sse: Sse,
    /// Share (0..1) of API requests that fail at random with 500, 502, 503 or 429,
    /// reproducibly from `--seed`.
    #[arg(long)]
    fault_rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Sse {
    Enabled,
    NotFound,
    Unavailable,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut builder = varg_emulator::Emulator::builder()
        .addr(args.addr)
        .seed(args.seed)
        .balance_cents(args.balance_cents)
        .time_scale(args.time_scale)
        .keepalive(Duration::from_secs_f64(
            args.keepalive_secs.clamp(0.001, 86_400.0),
        ));
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    if let Some(n) = args.requests_per_minute {
        builder = builder.requests_per_minute(n);
    }
    if let Some(n) = args.concurrent_jobs {
        builder = builder.concurrent_jobs(n);
    }
    if let Some(n) = args.output_size {
        builder = builder.output_size(n);
    }
    builder = builder
        .max_stream_time(Duration::from_secs_f64(
            args.max_stream_secs.clamp(0.001, 86_400.0),
        ))
        .sse_mode(match args.sse {
            Sse::Enabled => SseMode::Enabled,
            Sse::NotFound => SseMode::NotFound,
            Sse::Unavailable => SseMode::Unavailable,
        });
    if let Some(rate) = args.fault_rate {
        builder = builder.random_faults(RandomFaults {
            probability: rate.clamp(0.0, 1.0),
            faults: vec![
                Fault::Status(500),
                Fault::Status(502),
                Fault::Status(503),
                Fault::RateLimited {
                    retry_after_secs: 1,
                },
            ],
            routes: Vec::new(),
        });
    }
    let emulator = builder.start().await?;
    println!("{}", emulator.base_url());
    tracing::info!("varg emulator listening on {}", emulator.base_url());
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
