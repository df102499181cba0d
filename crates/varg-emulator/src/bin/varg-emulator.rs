//! `varg-emulator`: runs the local varg gateway until interrupted.

use clap::Parser;
use varg_emulator::cli::EmulatorArgs;

/// A local varg gateway for offline development and tests.
#[derive(Debug, Parser)]
#[command(name = "varg-emulator", version, about)]
struct Args {
    #[command(flatten)]
    emulator: EmulatorArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let builder = match args.emulator.to_builder() {
        Ok(builder) => builder,
        Err(e) => {
            eprintln!("varg-emulator: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("varg-emulator: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", emulator.base_url());
    tracing::info!("varg emulator listening on {}", emulator.base_url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("varg-emulator: {e}");
    }
    emulator.shutdown().await;
    std::process::ExitCode::SUCCESS
}
