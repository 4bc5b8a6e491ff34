//! The kdeck binary: parses arguments and hands over to the library.

use clap::Parser;
use kdeck::cli::{Cli, Command, DemoCommand};
use kdeck::run::{StartTarget, StartupError, run_dashboard};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The dashboard's memory settings (the simulator server keeps the allocator's defaults:
    // it serves many clusters' lists at once).
    if !matches!(cli.command, Some(Command::Demo(_))) {
        kdeck::source::trim::configure();
    }
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
    // A panic is caught here so the runtime can be shut down without waiting for the
    // terminal-input thread (the panic hook has already restored the terminal and printed).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            match cli.command {
                // The simulator's own failures (bad arguments, ports in use) are usage
                // errors: one line, exit code 2.
                Some(Command::Demo(DemoCommand::Serve(args))) => {
                    kdeck_demo::serve::run(&args.serve_options())
                        .await
                        .map_err(|e| anyhow::Error::new(StartupError(format!("{e:#}"))))
                }
                Some(Command::Open { pane, name }) => {
                    run_dashboard(
                        &cli.run,
                        StartTarget {
                            open: Some((pane, name)),
                        },
                    )
                    .await
                }
                Some(Command::Rollout { name }) => {
                    let open = Some(("rollouts".to_string(), name));
                    run_dashboard(&cli.run, StartTarget { open }).await
                }
                None => run_dashboard(&cli.run, StartTarget::default()).await,
            }
        })
    }));
    // Background tasks (watches, the demo, the input thread) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    let Ok(result) = result else {
        return std::process::ExitCode::from(101);
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<StartupError>() => {
            eprintln!("kdeck: {e}");
            std::process::ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kdeck: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
