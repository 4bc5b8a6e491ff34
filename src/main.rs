//! The kdeck binary: parses arguments and hands over to the library.

use clap::Parser;
use kdeck::cli::{Cli, Command, DemoCommand};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kdeck: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Demo(DemoCommand::Serve(args))) => {
            runtime.block_on(kdeck::demo::serve::run(&args))
        }
        _ => Err(anyhow::anyhow!("the dashboard is not built yet")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kdeck: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
