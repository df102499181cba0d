//! Command-line flags for every emulator setting, shared by the `varg-emulator` binary and
//! `varg emulator` (which flattens [`EmulatorArgs`] into its own command).
//!
//! No flag clashes with the `varg` CLI's global flags (`--api-key`, `--base-url`,
//! `--emulator`, `--json`, `--quiet`, `--timeout`, `--cancel-on-timeout`, `--cache`,
//! `--verbose`): the key the emulator accepts is `--emulator-key`.
//!
//! ```
//! use clap::Parser;
//! use varg_emulator::cli::EmulatorArgs;
//!
//! #[derive(Parser)]
//! struct Command {
//!     #[command(flatten)]
//!     emulator: EmulatorArgs,
//! }
//!
//! let command = Command::parse_from([
//!     "emulator", "--addr", "127.0.0.1:0", "--time-scale", "0", "--fault", "createImage=503",
//! ]);
//! let builder = command.emulator.to_builder().unwrap();
//! # let _ = builder;
//! let bad = Command::parse_from(["emulator", "--fault", "createImage=sometimes"]);
//! assert!(bad.emulator.to_builder().unwrap_err().starts_with("--fault"));
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Durations, EmulatorBuilder, Fault, RandomFaults, SseMode};

/// Every timing, limit and fault knob of the emulator as command-line flags; turn them into
/// a builder with [`EmulatorArgs::to_builder`].
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787", env = "VARG_EMULATOR_ADDR")]
    pub addr: SocketAddr,
    /// Seed of the random generator used by fault injection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Accept only this API key (default: any key starting with `varg_`).
    #[arg(long, env = "VARG_EMULATOR_API_KEY", hide_env_values = true)]
    pub emulator_key: Option<String>,
    /// Starting balance in cents (default 100000; with --state-dir, the stored balance
    /// unless this is given).
    #[arg(long)]
    pub balance_cents: Option<i64>,
    /// Price in cents of one job of a model, MODEL=CENTS (repeatable; `ffmpeg`,
    /// `ffmpeg/trim`, ... for media jobs).
    #[arg(long = "price", value_name = "MODEL=CENTS")]
    pub prices: Vec<String>,
    /// Multiplies every job duration (0 finishes jobs at once).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Duration of /image jobs in milliseconds, before the time scale (default 400).
    #[arg(long, value_name = "MS")]
    pub image_ms: Option<u64>,
    /// Duration of /video jobs in milliseconds (default 1500).
    #[arg(long, value_name = "MS")]
    pub video_ms: Option<u64>,
    /// Duration of /speech jobs in milliseconds (default 400).
    #[arg(long, value_name = "MS")]
    pub speech_ms: Option<u64>,
    /// Duration of /music jobs in milliseconds (default 800).
    #[arg(long, value_name = "MS")]
    pub music_ms: Option<u64>,
    /// Duration of /transcription jobs in milliseconds (default 400).
    #[arg(long, value_name = "MS")]
    pub transcription_ms: Option<u64>,
    /// Duration of /ffmpeg* jobs in milliseconds (default 500).
    #[arg(long, value_name = "MS")]
    pub media_ms: Option<u64>,
    /// Seconds between SSE keepalive comments.
    #[arg(long, default_value_t = 15.0)]
    pub keepalive_secs: f64,
    /// Longest time in seconds an SSE connection stays open.
    #[arg(long, default_value_t = 600.0)]
    pub max_stream_secs: f64,
    /// Cache lifetime in seconds (default 30 days).
    #[arg(long)]
    pub cache_ttl_secs: Option<u64>,
    /// What `GET /v1/jobs/{id}/stream` does.
    #[arg(long, value_enum, default_value_t = SseArg::Enabled)]
    pub sse: SseArg,
    /// Requests per minute per key before 429.
    #[arg(long)]
    pub requests_per_minute: Option<u32>,
    /// Concurrent jobs per key before 429.
    #[arg(long)]
    pub concurrent_jobs: Option<u32>,
    /// Serve every output as a streamed body of this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub output_size: Option<u64>,
    /// Share (0..1) of API requests that fail at random with 500, 502, 503 or 429,
    /// reproducibly from --seed.
    #[arg(long)]
    pub fault_rate: Option<f64>,
    /// A fault for the next request to a route, ROUTE=FAULT (repeatable, used in order).
    /// FAULT: a status (`503`), `rate-limited[:SECS]`, `reset`, `reset-after-work`,
    /// `delay:MS`, `cut-stream:N`, `malformed-json`, `truncated-json` or `html[:STATUS]`.
    /// ROUTE: an operationId (`createImage`, `getJob`, `streamJob`, `uploadFile`, ...) or
    /// `downloadOutput` / `downloadFile`.
    #[arg(long = "fault", value_name = "ROUTE=FAULT")]
    pub faults: Vec<String>,
    /// Accept any model id (default: models outside the catalogue get 400, as from the
    /// gateway).
    #[arg(long)]
    pub accept_any_model: bool,
    /// Keep jobs, outputs, uploads, the cache and the balance in this directory, shared
    /// with later runs and other emulators on it (default: in memory).
    #[arg(long, env = "VARG_EMULATOR_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `--sse`: what the stream route does (see [`SseMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SseArg {
    /// Streams job updates.
    Enabled,
    /// Answers 404, as if the route did not exist.
    NotFound,
    /// Answers 503.
    Unavailable,
}

/// Seconds from a flag as a duration, refusing what is not a positive finite number.
fn secs(flag: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 && value <= 86_400.0 * 365.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{flag} must be a positive number of seconds (got {value})"
        ))
    }
}

/// Parses one `--fault` value's FAULT part.
pub fn parse_fault(spec: &str) -> Result<Fault, String> {
    let (name, arg) = match spec.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (spec, None),
    };
    let number = |what: &str| -> Result<u64, String> {
        arg.ok_or_else(|| format!("{name} needs {what}, e.g. {name}:5"))?
            .parse::<u64>()
            .map_err(|_| format!("{name}: {what} must be a whole number"))
    };
    let status = |code: u64| -> Result<u16, String> {
        u16::try_from(code)
            .ok()
            .filter(|c| (400..=599).contains(c))
            .ok_or_else(|| format!("status {code} is not an error status (400..=599)"))
    };
    Ok(match name {
        "reset" => Fault::Reset,
        "reset-after-work" => Fault::ResetAfterWork,
        "malformed-json" => Fault::MalformedJson,
        "truncated-json" => Fault::TruncatedJson,
        "rate-limited" => Fault::RateLimited {
            retry_after_secs: if arg.is_some() { number("seconds")? } else { 1 },
        },
        "delay" => Fault::Delay(Duration::from_millis(number("milliseconds")?)),
        "cut-stream" => Fault::CutStreamAfter(
            usize::try_from(number("a number of events")?).unwrap_or(usize::MAX),
        ),
        "html" => Fault::Html(if arg.is_some() {
            status(number("a status")?)?
        } else {
            502
        }),
        code if arg.is_none() && code.bytes().all(|b| b.is_ascii_digit()) && !code.is_empty() => {
            let code = status(code.parse::<u64>().unwrap_or(0))?;
            if code == 429 {
                Fault::RateLimited {
                    retry_after_secs: 1,
                }
            } else {
                Fault::Status(code)
            }
        }
        other => return Err(format!("unknown fault {other:?}")),
    })
}

impl EmulatorArgs {
    /// A builder with every flag applied. Errors name the bad flag, e.g.
    /// `--time-scale must be a finite number >= 0 (got -1)`.
    pub fn to_builder(&self) -> Result<EmulatorBuilder, String> {
        let mut builder = crate::Emulator::builder()
            .addr(self.addr)
            .seed(self.seed)
            .accept_any_model(self.accept_any_model);
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return Err(format!(
                "--time-scale must be a finite number >= 0 (got {})",
                self.time_scale
            ));
        }
        builder = builder
            .time_scale(self.time_scale)
            .keepalive(secs("--keepalive-secs", self.keepalive_secs)?)
            .max_stream_time(secs("--max-stream-secs", self.max_stream_secs)?)
            .sse_mode(match self.sse {
                SseArg::Enabled => SseMode::Enabled,
                SseArg::NotFound => SseMode::NotFound,
                SseArg::Unavailable => SseMode::Unavailable,
            });
        if let Some(key) = &self.emulator_key {
            if key.trim().is_empty() {
                return Err("--emulator-key must not be empty".into());
            }
            builder = builder.api_key(key.clone());
        }
        if let Some(cents) = self.balance_cents {
            builder = builder.balance_cents(cents);
        }
        for price in &self.prices {
            let (model, cents) = price
                .split_once('=')
                .ok_or_else(|| format!("--price {price:?}: expected MODEL=CENTS"))?;
            let cents = cents
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|c| *c >= 0)
                .ok_or_else(|| format!("--price {price:?}: CENTS must be a whole number >= 0"))?;
            builder = builder.price(model.trim(), cents);
        }
        let defaults = Durations::default();
        let ms = |value: Option<u64>, default: Duration| {
            value.map(Duration::from_millis).unwrap_or(default)
        };
        builder = builder.durations(Durations {
            image: ms(self.image_ms, defaults.image),
            video: ms(self.video_ms, defaults.video),
            speech: ms(self.speech_ms, defaults.speech),
            music: ms(self.music_ms, defaults.music),
            transcription: ms(self.transcription_ms, defaults.transcription),
            media: ms(self.media_ms, defaults.media),
        });
        if let Some(ttl) = self.cache_ttl_secs {
            builder = builder.cache_ttl(Duration::from_secs(ttl));
        }
        if let Some(n) = self.requests_per_minute {
            builder = builder.requests_per_minute(n);
        }
        if let Some(n) = self.concurrent_jobs {
            builder = builder.concurrent_jobs(n);
        }
        if let Some(n) = self.output_size {
            builder = builder.output_size(n);
        }
        if let Some(rate) = self.fault_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("--fault-rate must be between 0 and 1 (got {rate})"));
            }
            builder = builder.random_faults(RandomFaults {
                probability: rate,
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
        for fault in &self.faults {
            let (route, spec) = fault
                .split_once('=')
                .filter(|(route, _)| !route.trim().is_empty())
                .ok_or_else(|| format!("--fault {fault:?}: expected ROUTE=FAULT"))?;
            let parsed = parse_fault(spec.trim()).map_err(|e| format!("--fault {fault:?}: {e}"))?;
            builder = builder.fault(route.trim(), parsed);
        }
        if let Some(dir) = &self.state_dir {
            builder = builder.state_dir(dir.clone());
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn args(flags: &[&str]) -> EmulatorArgs {
        let mut argv = vec!["emulator"];
        argv.extend_from_slice(flags);
        Command::try_parse_from(argv).expect("flags parse").args
    }

    #[test]
    fn faults_parse_from_their_short_names() {
        assert_eq!(parse_fault("503"), Ok(Fault::Status(503)));
        assert_eq!(
            parse_fault("429"),
            Ok(Fault::RateLimited {
                retry_after_secs: 1
            })
        );
        assert_eq!(
            parse_fault("rate-limited:7"),
            Ok(Fault::RateLimited {
                retry_after_secs: 7
            })
        );
        assert_eq!(parse_fault("reset"), Ok(Fault::Reset));
        assert_eq!(parse_fault("reset-after-work"), Ok(Fault::ResetAfterWork));
        assert_eq!(
            parse_fault("delay:250"),
            Ok(Fault::Delay(Duration::from_millis(250)))
        );
        assert_eq!(parse_fault("cut-stream:2"), Ok(Fault::CutStreamAfter(2)));
        assert_eq!(parse_fault("html"), Ok(Fault::Html(502)));
        assert_eq!(parse_fault("html:504"), Ok(Fault::Html(504)));
        assert_eq!(parse_fault("malformed-json"), Ok(Fault::MalformedJson));
        assert_eq!(parse_fault("truncated-json"), Ok(Fault::TruncatedJson));
        assert!(parse_fault("200").is_err());
        assert!(parse_fault("delay").is_err());
        assert!(parse_fault("delay:soon").is_err());
        assert!(parse_fault("sometimes").is_err());
    }

    #[test]
    fn errors_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--time-scale=-1"], "--time-scale"),
            (&["--keepalive-secs", "0"], "--keepalive-secs"),
            (&["--max-stream-secs", "inf"], "--max-stream-secs"),
            (&["--fault-rate", "1.5"], "--fault-rate"),
            (&["--fault", "createImage"], "--fault"),
            (&["--fault", "createImage=teapot"], "--fault"),
            (&["--price", "flux-pro"], "--price"),
            (&["--price", "flux-pro=-3"], "--price"),
            (&["--emulator-key", " "], "--emulator-key"),
        ];
        for (flags, flag) in cases {
            let err = args(flags).to_builder().unwrap_err();
            assert!(err.starts_with(flag), "{flags:?}: {err}");
        }
    }

    #[test]
    fn every_flag_is_accepted_together() {
        let parsed = args(&[
            "--addr",
            "127.0.0.1:0",
            "--seed",
            "7",
            "--emulator-key",
            "varg_k",
            "--balance-cents",
            "50",
            "--price",
            "flux-pro=3",
            "--time-scale",
            "0.5",
            "--image-ms",
            "1",
            "--video-ms",
            "2",
            "--speech-ms",
            "3",
            "--music-ms",
            "4",
            "--transcription-ms",
            "5",
            "--media-ms",
            "6",
            "--keepalive-secs",
            "1",
            "--max-stream-secs",
            "2",
            "--cache-ttl-secs",
            "60",
            "--sse",
            "not-found",
            "--requests-per-minute",
            "10",
            "--concurrent-jobs",
            "2",
            "--output-size",
            "99",
            "--fault-rate",
            "0.1",
            "--fault",
            "createImage=503",
            "--fault",
            "getJob=delay:5",
            "--accept-any-model",
            "--state-dir",
            "/tmp/x",
        ]);
        assert_eq!(parsed.faults.len(), 2);
        assert!(parsed.accept_any_model);
        assert_eq!(parsed.sse, SseArg::NotFound);
        assert!(parsed.to_builder().is_ok());
    }

    #[test]
    fn no_flag_clashes_with_the_varg_cli_globals() {
        use clap::CommandFactory;
        let command = Command::command();
        let taken = [
            "api-key",
            "base-url",
            "emulator",
            "json",
            "quiet",
            "timeout",
            "cancel-on-timeout",
            "cache",
            "verbose",
        ];
        for arg in command.get_arguments() {
            let long = arg.get_long().unwrap_or("");
            assert!(!taken.contains(&long), "--{long} clashes");
            assert!(arg.get_short().is_none(), "--{long} has a short flag");
        }
    }
}
