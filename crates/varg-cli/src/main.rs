//! `varg`: the command-line client of the varg gateway.
//!
//! Every request creates a job; the command waits for it (progress on stderr), then saves the
//! output with `-o` or prints its URL. With no API key configured it runs on the built-in
//! emulator. See `varg --help` for the commands and exit codes.

mod args;
mod batch;
mod catalogue;
mod commands;
mod connect;
mod interrupt;
mod manifest;
mod output;
mod target;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use serde_json::json;

use crate::args::Cli;
use crate::interrupt::{Inflight, Stop};
use crate::output::{Printer, stderr_line};

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code (see [`args::EXIT_CODES`]).
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// The job concerned, if one was created.
    pub job_id: Option<String>,
    /// Whether `varg job wait <job_id>` can still help (the job may finish, or has finished
    /// and only saving its output failed).
    pub resume: bool,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
            job_id: None,
            resume: false,
        }
    }

    /// A local failure (exit code 5).
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: 5,
            message: message.into(),
            job_id: None,
            resume: false,
        }
    }
}

/// Whether waiting again can help with a job an error left behind: only while the job may
/// still finish, or has finished and only our side failed. Never for a failed, cancelled or
/// unknown job.
fn can_resume(err: &varg_core::Error) -> bool {
    use varg_core::Error;
    match err {
        Error::WaitDeadline {
            cancel_requested: false,
            ..
        }
        | Error::Transport { .. }
        | Error::Timeout { .. }
        | Error::RateLimited { .. }
        | Error::Decode { .. }
        | Error::JobIo { .. }
        | Error::NoOutput { .. } => true,
        Error::Api(_) => err
            .status()
            .is_some_and(|s| s.is_server_error() || s.as_u16() == 429),
        _ => false,
    }
}

impl From<varg_core::Error> for CliError {
    fn from(err: varg_core::Error) -> Self {
        use varg_core::Error;
        let code = match &err {
            Error::JobFailed { .. } | Error::JobCancelled { .. } | Error::WaitDeadline { .. } => 1,
            Error::InvalidInput(_) | Error::InvalidConfig { .. } => 2,
            Error::RateLimited { .. } | Error::Transport { .. } | Error::Timeout { .. } => 4,
            Error::Api(_) => match err.status().map(|s| s.as_u16()) {
                Some(401..=403) => 3,
                Some(400 | 413 | 422) => 2,
                Some(429) => 4,
                Some(s) if s >= 500 => 4,
                _ => 5,
            },
            _ => 5,
        };
        Self {
            code,
            message: err.to_string(),
            job_id: err.job_id().map(|id| id.to_string()),
            resume: can_resume(&err),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        Self::other(err.to_string())
    }
}

/// Logging to stderr: `RUST_LOG` if set, else `-v` (the SDK's own events at debug) or `-vv`
/// (everything at trace). Silent by default.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => match verbose {
            0 => return,
            1 => EnvFilter::new("warn,varg_async=debug,varg_core=debug,varg_cli=debug"),
            _ => EnvFilter::new("trace"),
        },
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let printer = Printer {
        json: cli.global.json,
        quiet: cli.global.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            stderr_line(&format!("error: cannot start the async runtime: {err}"));
            return ExitCode::from(5);
        }
    };
    let serving = matches!(cli.command, args::Command::Emulator(_));
    let cancel_on_interrupt = cli.global.cancel_on_interrupt;
    let cancel_on_timeout = cli.global.cancel_on_timeout;
    let timeout = match commands::parse_timeout(cli.global.timeout) {
        Ok(timeout) => timeout,
        Err(err) => return report(printer, err, &Inflight::default()),
    };
    let inflight = Arc::new(Inflight::default());
    let outcome = runtime.block_on(async {
        let command = commands::run(cli, printer, timeout, inflight.clone());
        let bounded = async {
            match timeout {
                Some(limit) => tokio::time::timeout(limit, command).await.ok(),
                None => Some(command.await),
            }
        };
        tokio::select! {
            result = bounded => match result {
                Some(result) => Ok(result),
                None => Err(Stop::Timeout),
            },
            () = interrupt::signalled() => Err(Stop::Signal),
        }
    });
    let stop = match outcome {
        Ok(Ok(())) => return ExitCode::SUCCESS,
        Ok(Err(err)) => return report(printer, err, &inflight),
        // `varg emulator` serves until it is stopped: that is its normal end.
        Err(Stop::Signal) if serving => return ExitCode::SUCCESS,
        Err(stop) => stop,
    };
    // Stopped early: account for what was left running, then exit promptly.
    let cancel = match stop {
        Stop::Signal => cancel_on_interrupt,
        Stop::Timeout => cancel_on_timeout,
    };
    runtime.block_on(inflight.abandon(stop, cancel));
    let (code, message) = match stop {
        Stop::Signal => (130, "interrupted"),
        Stop::Timeout => (1, "--timeout passed before the command finished"),
    };
    printer.event(json!({"event": "error", "exit_code": code, "message": message}));
    if stop == Stop::Timeout {
        stderr_line(&format!("error: {message}"));
    }
    runtime.shutdown_background();
    ExitCode::from(code)
}

fn report(printer: Printer, err: CliError, inflight: &Inflight) -> ExitCode {
    stderr_line(&format!("error: {}", err.message));
    if let Some(id) = &err.job_id {
        if err.resume {
            let flags = inflight.resume_flags();
            stderr_line(&format!(
                "job id: {id} (`varg job wait {id}{flags}` picks it up)"
            ));
        } else {
            stderr_line(&format!("job id: {id}"));
        }
    }
    printer.event(json!({"event": "error", "exit_code": err.code, "message": err.message, "job_id": err.job_id}));
    ExitCode::from(err.code)
}
