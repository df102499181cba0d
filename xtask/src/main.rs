//! `cargo xtask`: workspace tasks for varg-rs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xtask::allowlist::Allowlist;
use xtask::drift::{self, NoDecoder};
use xtask::spec;

#[derive(Parser)]
#[command(name = "xtask", about = "Workspace tasks for varg-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare a documented OpenAPI file with ours and report drift.
    CheckOpenapi {
        /// The documented OpenAPI file (YAML or JSON).
        #[arg(long)]
        spec: PathBuf,
        /// Our OpenAPI document (JSON or YAML).
        #[arg(long)]
        ours: PathBuf,
        /// The allowlist explaining what we have beyond the documented file.
        #[arg(long)]
        allowlist: Option<PathBuf>,
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
        Command::CheckOpenapi {
            spec: spec_path,
            ours,
            allowlist,
        } => {
            let documented = spec::load_document(&spec_path)?;
            let ours = spec::load_document(&ours)?;
            let allowlist_path =
                allowlist.unwrap_or_else(|| workspace_root().join("xtask/openapi-allowlist.yaml"));
            let allowlist = Allowlist::load(&allowlist_path)?;
            let report = drift::check(&documented, &ours, &allowlist, &NoDecoder);
            print!("{}", report.render());
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
