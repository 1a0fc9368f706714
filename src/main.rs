//! The `palisade` command: dispatches `run`, `check` and `demo`, and maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use palisade::config::Config;
use palisade::server::Bound;

/// A security gateway for web APIs.
#[derive(Debug, Parser)]
#[command(name = "palisade", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve: check the config, then proxy requests through the protections it declares.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// How log lines are written.
        #[arg(long, value_enum, default_value_t = LogFormat::Human)]
        log_format: LogFormat,
    },
    /// Validate the config, print the route table and warnings; exit 1 on errors.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Start an example upstream and the gateway in one process, with no network needed, and
    /// print commands that show each protection.
    Demo {
        /// Where the demo gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Run the printed scenarios against the demo and report, then exit (1 on failure).
        #[arg(long)]
        self_test: bool,
        /// How log lines are written.
        #[arg(long, value_enum, default_value_t = LogFormat::Human)]
        log_format: LogFormat,
    },
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The config file.
    #[arg(
        short = 'c',
        long = "config",
        env = "PALISADE_CONFIG",
        default_value = "palisade.toml"
    )]
    path: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config } => check(&config.path),
        Command::Run { config, log_format } => {
            init_logs(log_format, LogTo::Stdout);
            run(&config.path)
        }
        Command::Demo {
            listen,
            self_test,
            log_format,
        } => {
            init_logs(log_format, LogTo::Stderr);
            runtime().and_then(|rt| rt.block_on(palisade::demo::run(listen, self_test)))
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    match Config::load(path) {
        Ok(config) => {
            print!("{}", palisade::check::report(&config));
            println!("\n{}: ok", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for problem in &errors.problems {
                eprintln!("error: {problem}");
            }
            eprintln!("{}: {} error(s)", path.display(), errors.problems.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn run(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            for problem in &errors.problems {
                eprintln!("error: {problem}");
            }
            anyhow::bail!(
                "{}: refusing to start with an invalid config",
                path.display()
            );
        }
    };
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    runtime()?.block_on(async {
        let bound = Bound::bind(config).await?;
        bound.serve(shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}

/// Where log lines go: stdout for `run`; stderr for `demo`, whose guide owns stdout.
#[derive(Debug, Clone, Copy)]
enum LogTo {
    Stdout,
    Stderr,
}

fn init_logs(format: LogFormat, to: LogTo) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;

    // PALISADE_LOG tunes diagnostics; the access log stays on unless it names it explicitly.
    let directives = std::env::var("PALISADE_LOG").unwrap_or_else(|_| "info".to_owned());
    let mut filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    if !directives.contains("palisade::access")
        && let Ok(access) = "palisade::access=info".parse()
    {
        filter = filter.add_directive(access);
    }
    let (writer, terminal) = match to {
        LogTo::Stdout => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
        LogTo::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
        LogFormat::Human => builder.with_ansi(terminal).init(),
    }
}
