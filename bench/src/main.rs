//! `hookwarden-bench`: runs each built Lambda function, and the Python Knox reference receiver,
//! exactly as Lambda runs a custom runtime — a fresh process polling a Lambda Runtime API on
//! 127.0.0.1 — against moto's S3 and Secrets Manager on 127.0.0.1, and reports for each:
//!
//! - cold start: wall time from spawning the process to the Runtime API receiving its first
//!   response, S3 writes included (median of fresh processes);
//! - CPU per warm event: the process's CPU time (`/proc/<pid>/task/*/schedstat`) per event,
//!   the median of windows taken in turn across the receivers (kernel part from
//!   `/proc/<pid>/stat`);
//! - peak RSS (`VmHWM`) after all events; binary size.
//!
//! moto runs in its own process, behind a keep-alive proxy in this one: their CPU is in no
//! figure, their latency is in the wall times.
//! Use `bench/run.sh`, which builds everything first.

mod events;
mod identity;
mod procfs;
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::Proxy;
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};

use events::{EventMaker, Provider};
use report::{Figures, RsaFigures};

const BUCKET: &str = "hookwarden-bench";
const BUS: &str = "hookwarden-bench";
const KNOX_CERT_KEY: &str = "certs/knox-test-cert.pem";
const SCALEFUSION_SECRET_ID: &str = "bench/scalefusion";
const ONEACCESS_SECRET_ID: &str = "bench/oneaccess";

#[derive(Parser)]
#[command(
    about = "Cold start, CPU per event, peak RSS and size of the hookwarden functions against a Python reference"
)]
struct Args {
    /// Directory holding the built function binaries (knox-webhook, …).
    #[arg(long, default_value = "target/release")]
    functions: PathBuf,
    /// Python interpreter for the reference receiver (with boto3 and cryptography); none skips it.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The Python reference receiver.
    #[arg(long, default_value = "bench/python_reference/knox_receiver.py")]
    python_receiver: PathBuf,
    /// Measured cold starts per receiver (one more runs first, unmeasured, to warm caches).
    #[arg(long, default_value_t = 7)]
    cold_runs: usize,
    /// Warm events sent before the CPU measurement starts.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Warm events the CPU per event is measured over.
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// Windows those events are split into, taken in turn across the receivers; the CPU per
    /// event reported is the median window.
    #[arg(long, default_value_t = 5)]
    windows: usize,
    /// Events one process has handled (cold one included) when its peak RSS is read.
    #[arg(long, default_value_t = 10_000)]
    rss_events: usize,
    /// Only these receivers (knox, scalefusion, oneaccess, python-knox); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// `openssl speed rsa2048` verifications per second, measured by run.sh, for the report.
    #[arg(long)]
    openssl_rsa2048_verify_per_s: Option<f64>,
    /// aws-lc-rs RSA-2048 verification time in µs (criterion), measured by run.sh.
    #[arg(long)]
    awslc_rsa2048_verify_us: Option<f64>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run each receiver under this command (a profiler), e.g.
    /// `--wrap "/usr/bin/valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p"`; absolute
    /// paths, since receivers get only Lambda's environment. Times are then the profiler's.
    #[arg(long)]
    wrap: Option<String>,
    /// Extra environment for every receiver, `NAME=value` (repeatable), e.g. to try a setting.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    extra_env: Vec<String>,
    /// Measure only the AWS requests and wall time per event (per sink, under injected AWS
    /// round trips) instead of cold start, CPU and memory.
    #[arg(long)]
    identity: bool,
    /// With --identity: the injected AWS round trips, in ms.
    #[arg(long, value_delimiter = ',', default_value = "0,20,50")]
    rtt_ms: Vec<u64>,
    /// With --identity: first deliveries (and as many duplicates) per receiver, sink and round trip.
    #[arg(long, default_value_t = 20)]
    identity_events: usize,
    /// Configure this many tenants on the scalefusion and oneaccess receivers (Secrets
    /// Manager secrets `bench/tenants/<provider>/t<i>`, holding the function's own key) and
    /// send event n to `/t<n mod tenants>`: the cost of the tenant lookup, with 1 or 100
    /// tenants (`--only scalefusion,oneaccess --tenants 100`).
    #[arg(long)]
    tenants: Option<usize>,
    /// How long one invocation may take; far above any answer seen without a profiler.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

/// A program that answers Lambda Runtime API events.
struct Receiver {
    name: &'static str,
    program: PathBuf,
    env: Vec<(String, String)>,
    provider: Provider,
    binary_bytes: Option<u64>,
    /// Tenants configured (`--tenants`); 0: events go to `/`, else to `/t<n mod tenants>`.
    tenants: usize,
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{receiver}: event {n} got {got} (expected a 200 response)\nstdout tail:\n{stdout}\nstderr tail:\n{stderr}")]
    BadResponse {
        receiver: &'static str,
        n: usize,
        got: String,
        stdout: String,
        stderr: String,
    },
    #[error(transparent)]
    Proc(#[from] procfs::ProcError),
    #[error(transparent)]
    Events(#[from] events::EventsError),
    #[error("{0}")]
    Setup(String),
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(err) = runtime.block_on(run(args)) {
        eprintln!("hookwarden-bench: {err}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), BenchError> {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, KNOX_CERT_KEY, events::KNOX_CERT_PEM)
        .await;
    moto.create_secret(SCALEFUSION_SECRET_ID, events::SCALEFUSION_SECRET)
        .await;
    moto.create_secret(ONEACCESS_SECRET_ID, events::ONEACCESS_SECRET)
        .await;
    moto.create_event_bus(BUS).await;
    let scratch = tempfile_dir()?;
    // Keep-alive as AWS endpoints do; moto alone closes every connection.
    let proxy = Proxy::start(&moto.endpoint()).await;
    let mut receivers = receivers(&args, &proxy.url(), scratch.path())?;
    for pair in &args.extra_env {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| BenchError::Setup(format!("--env {pair}: expected NAME=VALUE")))?;
        for receiver in &mut receivers {
            receiver.env.push((name.to_string(), value.to_string()));
        }
    }
    if let Some(count) = args.tenants.filter(|n| *n > 0) {
        for receiver in &mut receivers {
            let (provider, secret) = match receiver.provider {
                Provider::Scalefusion => ("scalefusion", events::SCALEFUSION_SECRET),
                Provider::OneAccess => ("oneaccess", events::ONEACCESS_SECRET),
                Provider::Knox => continue,
            };
            let prefix = format!("bench/tenants/{provider}/");
            for i in 0..count {
                moto.create_secret(&format!("{prefix}t{i}"), secret).await;
            }
            receiver
                .env
                .push(("HOOKWARDEN_TENANT_SECRET_PREFIX".into(), prefix));
            receiver.tenants = count;
        }
    }
    if let Some(wrap) = &args.wrap {
        for receiver in &mut receivers {
            let script = scratch.path().join(format!("wrapped-{}", receiver.name));
            let text = format!("#!/bin/sh\nexec {wrap} {}\n", receiver.program.display());
            std::fs::write(&script, text)
                .map_err(|err| BenchError::Setup(format!("writing {}: {err}", script.display())))?;
            make_executable(&script)?;
            receiver.program = script;
        }
    }
    if args.identity {
        let timeout = Duration::from_secs(args.timeout_secs);
        let rows = identity::measure(
            &receivers,
            &proxy,
            BUS,
            &args.rtt_ms,
            args.identity_events,
            timeout,
        )
        .await?;
        print!("{}", identity::markdown(&rows, args.identity_events));
        return Ok(());
    }
    let figures = measure_all(&receivers, &args, procfs::ticks_per_second()).await?;
    let rsa = RsaFigures {
        openssl_verify_per_s: args.openssl_rsa2048_verify_per_s,
        awslc_verify_us: args.awslc_rsa2048_verify_us,
    };
    let machine = report::machine();
    print!(
        "{}",
        report::markdown(&figures, &rsa, &machine, &args_summary(&args))
    );
    if let Some(path) = &args.json {
        let json = report::json(&figures, &rsa, &machine, &args_summary(&args));
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json).expect("plain data"),
        )
        .map_err(|err| BenchError::Setup(format!("writing {}: {err}", path.display())))?;
    }
    Ok(())
}

fn args_summary(args: &Args) -> report::Settings {
    report::Settings {
        cold_runs: args.cold_runs,
        warmup: args.warmup,
        events: args.events,
        windows: args.windows,
        rss_events: args.rss_events,
        body_bytes: events::BODY_BYTES,
    }
}

fn tempfile_dir() -> Result<tempfile::TempDir, BenchError> {
    tempfile::tempdir()
        .map_err(|err| BenchError::Setup(format!("creating a scratch directory: {err}")))
}

fn receivers(args: &Args, endpoint: &str, scratch: &Path) -> Result<Vec<Receiver>, BenchError> {
    let common = |prefix: &str| {
        vec![
            ("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()),
            ("HOOKWARDEN_SINK".to_string(), "s3".to_string()),
            ("HOOKWARDEN_BUCKET".to_string(), BUCKET.to_string()),
            ("HOOKWARDEN_PREFIX".to_string(), prefix.to_string()),
        ]
    };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let binary = |name: &str| -> Result<(PathBuf, Option<u64>), BenchError> {
        let path = args.functions.join(name);
        let size = std::fs::metadata(&path)
            .map_err(|err| {
                BenchError::Setup(format!(
                    "{}: {err}; run bench/run.sh, which builds it",
                    path.display()
                ))
            })?
            .len();
        Ok((path, Some(size)))
    };
    let mut list = Vec::new();
    if wanted("knox") {
        let (program, binary_bytes) = binary("knox-webhook")?;
        let mut env = common("knox");
        env.push(("KNOX_CERT_KEY".into(), KNOX_CERT_KEY.into()));
        // The subscription of every Knox body the bench sends (events.rs).
        env.push(("KNOX_SUBSCRIPTION_IDS".into(), "123456789123".into()));
        list.push(Receiver {
            name: "knox",
            program,
            env,
            provider: Provider::Knox,
            binary_bytes,
            tenants: 0,
        });
    }
    if wanted("scalefusion") {
        let (program, binary_bytes) = binary("scalefusion-webhook")?;
        let mut env = common("scalefusion");
        env.push(("SCALEFUSION_SECRET_ID".into(), SCALEFUSION_SECRET_ID.into()));
        list.push(Receiver {
            name: "scalefusion",
            program,
            env,
            provider: Provider::Scalefusion,
            binary_bytes,
            tenants: 0,
        });
    }
    if wanted("oneaccess") {
        let (program, binary_bytes) = binary("oneaccess-webhook")?;
        let mut env = common("oneaccess");
        env.push(("ONEACCESS_SECRET_ID".into(), ONEACCESS_SECRET_ID.into()));
        list.push(Receiver {
            name: "oneaccess",
            program,
            env,
            provider: Provider::OneAccess,
            binary_bytes,
            tenants: 0,
        });
    }
    if let (Some(python), true) = (&args.python, wanted("python-knox")) {
        let source = std::fs::read_to_string(&args.python_receiver).map_err(|err| {
            BenchError::Setup(format!("{}: {err}", args.python_receiver.display()))
        })?;
        // The kernel starts the interpreter straight from the shebang: no shell in between.
        let program = scratch.join("knox_receiver");
        std::fs::write(&program, format!("#!{}\n{source}", python.display()))
            .map_err(|err| BenchError::Setup(format!("writing {}: {err}", program.display())))?;
        make_executable(&program)?;
        let mut env = common("knox-python");
        env.push(("KNOX_CERT_KEY".into(), KNOX_CERT_KEY.into()));
        list.push(Receiver {
            name: "python-knox",
            program,
            env,
            provider: Provider::Knox,
            binary_bytes: None,
            tenants: 0,
        });
    }
    Ok(list)
}

fn make_executable(path: &Path) -> Result<(), BenchError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|err| BenchError::Setup(format!("chmod {}: {err}", path.display())))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sends `event` (the `n`th) and insists on a 200.
async fn invoke_ok(
    api: &RuntimeApi,
    process: &FunctionProcess,
    receiver: &Receiver,
    event: serde_json::Value,
    n: usize,
    timeout: Duration,
) -> Result<(), BenchError> {
    let mut event = event;
    if receiver.tenants > 0 {
        event["rawPath"] = format!("/t{}", n % receiver.tenants).into();
    }
    let outcome = api.invoke(event, timeout).await;
    match &outcome {
        Ok(response) if response["statusCode"] == 200 => Ok(()),
        _ => {
            let tail = |text: String| {
                let start = text.len().saturating_sub(2000);
                text[text.floor_char_boundary(start)..].to_string()
            };
            Err(BenchError::BadResponse {
                receiver: receiver.name,
                n,
                got: format!("{outcome:?}"),
                stdout: tail(process.stdout()),
                stderr: tail(process.stderr()),
            })
        }
    }
}

fn env_pairs(receiver: &Receiver) -> Vec<(&str, &str)> {
    receiver
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// One cold start of `receiver`: wall time from spawning a fresh process to its first
/// response, and the CPU the process used meanwhile (ms).
async fn cold_start(
    receiver: &Receiver,
    maker: &EventMaker,
    run: usize,
    timeout: Duration,
) -> Result<(f64, f64), BenchError> {
    // A fresh Runtime API per process: a killed process's pending long poll must not
    // swallow the next process's event.
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let mut process = api.spawn_function(&receiver.program, &env_pairs(receiver));
    invoke_ok(
        &api,
        &process,
        receiver,
        maker.event(run, 0, now_ms())?,
        0,
        timeout,
    )
    .await?;
    let elapsed = started.elapsed();
    let cpu = procfs::live_threads_cpu_time(process.id())?;
    process.kill();
    Ok((elapsed.as_secs_f64() * 1e3, cpu.as_secs_f64() * 1e3))
}

/// One receiver's warm process and what was measured of it.
struct Warm<'a> {
    receiver: &'a Receiver,
    maker: EventMaker,
    api: RuntimeApi,
    process: FunctionProcess,
    run: usize,
    n: usize,
    cpu_us: Vec<f64>,
    wall_us: Vec<f64>,
    cold_ms: Vec<f64>,
    cold_cpu_ms: Vec<f64>,
}

impl Warm<'_> {
    async fn events(&mut self, count: usize, timeout: Duration) -> Result<(), BenchError> {
        for _ in 0..count {
            let event = self.maker.event(self.run, self.n, now_ms())?;
            invoke_ok(
                &self.api,
                &self.process,
                self.receiver,
                event,
                self.n,
                timeout,
            )
            .await?;
            self.n += 1;
        }
        Ok(())
    }
}

/// Every receiver measured, in turn at each step, so that a change in the machine's speed
/// during the run (a busy neighbour on a shared host) weighs on every receiver alike: rounds
/// of one cold start per receiver, then one warm process each, their CPU per event measured
/// in windows taken in turn (knox, scalefusion, …, knox, …); each figure is the median.
async fn measure_all(
    receivers: &[Receiver],
    args: &Args,
    ticks: u64,
) -> Result<Vec<Figures>, BenchError> {
    let timeout = Duration::from_secs(args.timeout_secs);
    let makers = receivers
        .iter()
        .map(|r| EventMaker::new(r.provider))
        .collect::<Result<Vec<_>, _>>()?;
    let mut cold = vec![(Vec::new(), Vec::new()); receivers.len()];
    // Run 0 warms the page cache (and Python's bytecode cache) and is not counted.
    for run in 0..=args.cold_runs {
        eprintln!(
            "cold starts, round {} of {} ...",
            run + 1,
            args.cold_runs + 1
        );
        for (i, receiver) in receivers.iter().enumerate() {
            let (wall_ms, cpu_ms) = cold_start(receiver, &makers[i], run + 1, timeout).await?;
            if run > 0 {
                cold[i].0.push(wall_ms);
                cold[i].1.push(cpu_ms);
            }
        }
    }
    let mut warm = Vec::new();
    for ((receiver, maker), (cold_ms, cold_cpu_ms)) in receivers.iter().zip(makers).zip(cold) {
        let api = RuntimeApi::start().await;
        let process = api.spawn_function(&receiver.program, &env_pairs(receiver));
        let mut one = Warm {
            receiver,
            maker,
            api,
            process,
            run: args.cold_runs + 2,
            n: 0,
            cpu_us: Vec::new(),
            wall_us: Vec::new(),
            cold_ms,
            cold_cpu_ms,
        };
        one.events(1 + args.warmup, timeout).await?;
        warm.push(one);
    }
    let per_window = args.events.div_ceil(args.windows).max(1);
    let mut system_us = vec![0.0; warm.len()];
    for window in 0..args.windows {
        eprintln!("CPU window {} of {} ...", window + 1, args.windows);
        for (i, one) in warm.iter_mut().enumerate() {
            let pid = one.process.id();
            let (cpu_before, ticks_before) = (
                procfs::live_threads_cpu_time(pid)?,
                procfs::cpu_time(pid, ticks)?,
            );
            let started = Instant::now();
            one.events(per_window, timeout).await?;
            let wall = started.elapsed();
            let cpu = procfs::live_threads_cpu_time(pid)? - cpu_before;
            system_us[i] += (procfs::cpu_time(pid, ticks)? - ticks_before)
                .system
                .as_secs_f64()
                * 1e6;
            one.cpu_us.push(cpu.as_secs_f64() * 1e6 / per_window as f64);
            one.wall_us
                .push(wall.as_secs_f64() * 1e6 / per_window as f64);
        }
    }
    let mut figures = Vec::new();
    for (mut one, system_us) in warm.into_iter().zip(system_us) {
        let remaining = args.rss_events.saturating_sub(one.n);
        one.events(remaining, timeout).await?;
        let pid = one.process.id();
        let peak_rss_bytes = procfs::status_bytes(pid, "VmHWM")?;
        let rss_bytes = procfs::status_bytes(pid, "VmRSS")?;
        one.process.kill();
        let measured = (per_window * args.windows) as f64;
        let figure = Figures::new(
            one.receiver.name,
            one.cold_ms,
            one.cold_cpu_ms,
            report::median_of(one.cpu_us),
            system_us / measured,
            report::median_of(one.wall_us),
            peak_rss_bytes,
            rss_bytes,
            one.n,
            one.receiver.binary_bytes,
        );
        eprintln!("  {}", figure.one_line());
        figures.push(figure);
    }
    Ok(figures)
}
