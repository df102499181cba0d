//! `varg`: the command-line client of the varg gateway.
//!
//! Every request creates a job; the command waits for it (progress on stderr), then prints
//! the output URL or saves the output with `-o`. With no API key configured it runs on the
//! built-in emulator. See `varg --help` for the commands and exit codes.

mod args;
mod batch;
mod commands;
mod manifest;
mod output;

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::args::Cli;
use crate::output::Printer;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code (see [`args::EXIT_CODES`]).
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// The job concerned, if one was created.
    pub job_id: Option<String>,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
            job_id: None,
        }
    }

    /// A local failure (exit code 5).
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: 5,
            message: message.into(),
            job_id: None,
        }
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
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        Self::other(err.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(5);
        }
    };
    match runtime.block_on(commands::run(cli, printer)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", err.message);
            if let Some(id) = &err.job_id {
                eprintln!("job id: {id} (`varg job wait {id}` resumes waiting)");
            }
            printer.event(json!({"event": "error", "exit_code": err.code, "message": err.message, "job_id": err.job_id}));
            ExitCode::from(err.code)
        }
    }
}
