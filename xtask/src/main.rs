//! `cargo xtask`: workspace tasks for varg-rs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
use xtask::allowlist::Allowlist;
use xtask::{drift, export, spec};

#[derive(Parser)]
#[command(name = "xtask", about = "Workspace tasks for varg-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the JSON Schemas and openapi.json into `schemas/`.
    Schema {
        /// Do not write: fail if the files on disk are not up to date.
        #[arg(long)]
        check: bool,
        /// Output folder (default: `schemas/` at the workspace root).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare a documented OpenAPI file with ours and report drift.
    CheckOpenapi {
        /// The documented OpenAPI file (YAML or JSON).
        #[arg(long)]
        spec: PathBuf,
        /// Our OpenAPI document; by default generated from varg-types.
        #[arg(long)]
        ours: Option<PathBuf>,
        /// The allowlist (default: `xtask/openapi-allowlist.yaml`).
        #[arg(long)]
        allowlist: Option<PathBuf>,
    },
    /// Measure the SDK against its baselines on the in-process emulator (loopback).
    Bench {
        /// Smaller samples: finishes in under 3 minutes on 2 cores.
        #[arg(long)]
        quick: bool,
        /// Also print every figure as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// One heavy measurement in a child process (used by `bench`).
    #[command(hide = true)]
    BenchWorker {
        /// What to measure and its arguments.
        args: Vec<String>,
    },
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Schema { check, out } => {
            let dir = out.unwrap_or_else(|| workspace_root().join("schemas"));
            if check {
                let problems = export::stale(&dir)?;
                if problems.is_empty() {
                    println!("{} is up to date", dir.display());
                    return Ok(ExitCode::SUCCESS);
                }
                for problem in &problems {
                    eprintln!("{}: {problem}", dir.display());
                }
                eprintln!("run `cargo xtask schema` and commit the result");
                return Ok(ExitCode::FAILURE);
            }
            let written = export::write(&dir)?;
            println!("wrote {} files into {}", written.len(), dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { quick, json } => {
            bench::run(quick, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchWorker { args } => {
            bench::worker(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckOpenapi {
            spec: spec_path,
            ours,
            allowlist,
        } => {
            let documented = spec::load_document(&spec_path)?;
            let ours = match ours {
                Some(path) => spec::load_document(&path)?,
                None => export::openapi()?,
            };
            let allowlist_path =
                allowlist.unwrap_or_else(|| workspace_root().join("xtask/openapi-allowlist.yaml"));
            let allowlist = Allowlist::load(&allowlist_path)?;
            let report = drift::check(&documented, &ours, &allowlist, &export::VargTypesDecoder);
            println!("documented: {}", spec_path.display());
            print!("{}", report.render());
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
