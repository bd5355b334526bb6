//! JSON logs on stdout, one object per line, which CloudWatch Logs Insights reads as fields.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use tracing_subscriber::filter::{LevelFilter, Targets};

/// How long a failing cold start waits for the Runtime API before exiting anyway.
const INIT_ERROR_TIMEOUT: Duration = Duration::from_secs(1);

/// Installs the JSON log subscriber: no colours, the invocation span's fields (request id)
/// on every line, levels from [`log_filter`] within [`library_caps`]. Does nothing if a
/// subscriber is already installed.
pub fn init_json_logs() {
    let _already_installed = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stdout)
        .finish()
        .with(log_filter(
            std::env::var(crate::settings::var::RUST_LOG)
                .ok()
                .as_deref(),
        ))
        .with(library_caps())
        .try_init();
}

/// Libraries whose debug and trace lines can carry what the logs must never hold: the Runtime
/// API's events (lambda_runtime, lambda_http), request and response bodies, secrets among
/// them (the SDK's orchestrator, hyper, reqwest).
const CAPPED_AT_INFO: [&str; 8] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "aws_sdk_secretsmanager",
    "hyper",
    "reqwest",
];

/// The levels `RUST_LOG` asks for: a level (`debug`) and/or `target=level` pairs
/// (`info,hookwarden_pipeline=debug`); unset or unreadable means `info`. `tracing`'s target
/// list rather than `EnvFilter`, whose span and field filters need a regex engine (a quarter
/// MiB of binary) that nobody filtering a webhook receiver's logs uses.
pub fn log_filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// A second filter every line must also pass: the libraries in [`CAPPED_AT_INFO`] at `info`
/// at most, whatever `RUST_LOG` names (a second layer, so no target in `RUST_LOG`, however
/// specific, lifts it).
pub fn library_caps() -> Targets {
    CAPPED_AT_INFO.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |caps, target| caps.with_target(*target, LevelFilter::INFO),
    )
}

/// Ends a cold start that cannot succeed (bad configuration): one JSON line on stdout
/// naming the problem, the same message to the Lambda Runtime API's init-error endpoint so
/// the invoker sees it, then exit status 1.
pub fn fail_cold_start(err: &dyn std::fmt::Display) -> ! {
    let message = format!("cold start failed: {err}");
    let line = serde_json::json!({ "level": "ERROR", "message": message });
    let mut stdout = std::io::stdout().lock();
    // Nothing is left to do if stdout is gone; the exit status still reports the failure.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        let _ = post_init_error(&api, &message);
    }
    std::process::exit(1)
}

/// `POST /2018-06-01/runtime/init/error` over a plain socket: no runtime exists yet, and this
/// runs once, on the way out.
fn post_init_error(api: &str, message: &str) -> std::io::Result<()> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": "Hookwarden.InitError" })
        .to_string();
    let address = api
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("AWS_LAMBDA_RUNTIME_API resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, INIT_ERROR_TIMEOUT)?;
    stream.set_read_timeout(Some(INIT_ERROR_TIMEOUT))?;
    stream.set_write_timeout(Some(INIT_ERROR_TIMEOUT))?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: Hookwarden.InitError\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    // Wait for the answer so the Runtime API has the error before the process is gone.
    let mut answer = [0u8; 256];
    let _ = stream.read(&mut answer)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_sets_levels_and_falls_back_to_info() {
        let default = log_filter(None);
        assert!(default.would_enable("hookwarden_pipeline", &Level::INFO));
        assert!(!default.would_enable("hookwarden_pipeline", &Level::DEBUG));

        let debug = log_filter(Some("debug"));
        assert!(debug.would_enable("hookwarden_aws", &Level::DEBUG));

        let per_target = log_filter(Some("warn,hookwarden_pipeline=debug"));
        assert!(per_target.would_enable("hookwarden_pipeline::delivery", &Level::DEBUG));
        assert!(!per_target.would_enable("hookwarden_aws", &Level::INFO));

        // The libraries that can log events, bodies and secrets stay at info at most,
        // however specifically RUST_LOG names them; the caps lift nothing RUST_LOG lowers.
        let logs = |rust_log: &str, target: &str, level: Level| {
            log_filter(Some(rust_log)).would_enable(target, &level)
                && library_caps().would_enable(target, &level)
        };
        for target in [
            "lambda_runtime::runtime",
            "aws_smithy_runtime::client",
            "hyper",
        ] {
            assert!(logs("debug", target, Level::INFO), "{target}");
            assert!(!logs("debug", target, Level::DEBUG), "{target}");
            let asked = format!("trace,{target}=trace");
            assert!(!logs(&asked, target, Level::DEBUG), "{target}");
        }
        assert!(logs("debug", "hookwarden_pipeline", Level::DEBUG));
        assert!(!logs("warn", "lambda_runtime", Level::INFO));
        assert!(logs("warn", "lambda_runtime", Level::WARN));

        let unreadable = log_filter(Some("[span{field=1}]=debug"));
        assert!(unreadable.would_enable("hookwarden_pipeline", &Level::INFO));
        assert!(!unreadable.would_enable("hookwarden_pipeline", &Level::DEBUG));
    }
}
