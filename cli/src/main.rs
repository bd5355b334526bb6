//! `hookwarden`: the webhook receivers on the command line — test keys, signing and verifying
//! single callbacks, a local server running the Lambda pipeline, replaying samples against it,
//! and rebuilding the samples under `events/`.
//!
//! Exit status: 0 ok/verified, 1 rejected (not authentic, or a 4xx answer to `send`), 2 bad
//! input or usage, 3 unfinished (`replay`: events the bus did not take). Every failure prints exactly one line on stderr.

#![forbid(unsafe_code)]

mod admit;
mod aws;
mod events;
mod failure;
mod files;
mod function_url;
mod ids;
mod keys;
mod replay;
mod secret_arg;
mod send;
mod serve;
mod sign;
mod streams;
mod test_keys;
mod verify;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hookwarden",
    version,
    about = "Verify, sign, serve and replay Samsung Knox, Scalefusion and Huawei OneAccess webhooks."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate TEST-ONLY key material.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Sign a body as the provider would.
    #[command(subcommand)]
    Sign(sign::Command),
    /// Verify a body and its signature as the Lambda functions do.
    #[command(subcommand)]
    Verify(verify::Command),
    /// Run the Lambda pipeline on http://127.0.0.1 with local files for S3 and EventBridge.
    Serve(serve::Args),
    /// POST a sample event, signed afresh, to a receiver.
    Send(send::Args),
    /// Re-publish stored events to an EventBridge bus (or serve's local bus), once per name.
    Replay(replay::Args),
    /// Send quarantined Knox callbacks again, once their subscription is listed.
    Admit(admit::Args),
    /// List event streams (provider, tenant, event type) with their last event, and which
    /// are silent against the cadence rules.
    Streams(streams::Args),
    /// Maintain the sample events under events/.
    #[command(subcommand)]
    Events(events::Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage(err),
    };
    let result = match cli.command {
        Command::Keys(command) => keys::run(command),
        Command::Sign(command) => sign::run(command),
        Command::Verify(command) => verify::run(command),
        Command::Serve(args) => serve::run(args).await,
        Command::Send(args) => send::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Admit(args) => admit::run(args).await,
        Command::Streams(args) => streams::run(args).await,
        Command::Events(command) => events::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hookwarden: {failure}");
            failure.exit_code()
        }
    }
}

/// Help and version go to stdout as usual; a usage error becomes one stderr line, exit 2.
fn usage(err: clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    // clap's message is a paragraph, then tips and usage: keep the paragraph, on one line.
    let text = err.render().to_string();
    let paragraph: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = paragraph.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let message = match err.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => "a subcommand is required",
        _ => message,
    };
    eprintln!("hookwarden: {message} (see hookwarden --help)");
    ExitCode::from(2)
}
