//! `hookwarden-bench`: runs each built Lambda function, and the Python Knox reference receiver,
//! exactly as Lambda runs a custom runtime — a fresh process polling a Lambda Runtime API on
//! 127.0.0.1 — against moto's S3 and Secrets Manager on 127.0.0.1, and reports for each:
//!
//! - cold start: wall time from spawning the process to the Runtime API receiving its first
//!   response, S3 writes included (median of fresh processes), over TLS (a test CA's
//!   certificate, so the handshake and the TLS library's start-up are paid) and over plain
//!   HTTP; and again with Init on a full core and the invocation at Lambda's CPU share for a
//!   memory size (a CPU cgroup, [`cpu_share`]): Init, the first invocation, the first response;
//! - CPU per warm event: the process's CPU time (`/proc/<pid>/task/*/schedstat`) per event,
//!   the median of windows taken in turn across the receivers (kernel part from
//!   `/proc/<pid>/stat`);
//! - peak RSS (`VmHWM`) after all events; binary size.
//!
//! moto runs in its own process, behind a keep-alive proxy in this one (plain HTTP and
//! HTTPS): their CPU is in no figure, their latency is in the wall times. Other builds of the
//! functions (`--compare baseline=DIR`) are measured in the same run, beside the current one.
//! Use `bench/run.sh`, which builds everything first.

#![forbid(unsafe_code)]

mod compare;
mod cpu_share;
mod events;
mod identity;
mod procfs;
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::Proxy;
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};

use cpu_share::CpuShare;
use events::{EventMaker, Provider};
use report::{ColdSeries, ColdStart, Figures, RsaFigures};

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
    /// Another build of the functions to measure beside them, `LABEL=DIR` (repeatable); its
    /// receivers are named `<function>@LABEL` (`knox@baseline`). The label `baseline` is
    /// the one the goals compare the wall time per event with.
    #[arg(long = "compare", value_name = "LABEL=DIR")]
    compare: Vec<String>,
    /// How the receivers reach AWS (moto) for the cold starts; the warm and identity
    /// measurements use the first.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "tls,http")]
    transport: Vec<Transport>,
    /// The Lambda memory size whose CPU share the second series of cold starts runs the
    /// first invocation at (Init on a full core).
    #[arg(long, default_value_t = 128)]
    memory_mb: u64,
    /// Skip the cold starts at the CPU share.
    #[arg(long)]
    no_cpu_share: bool,
    /// After cold start, CPU and memory, also measure the AWS requests and wall time per event
    /// (as `--identity`) and print the comparison of the builds with the goals checked.
    #[arg(long)]
    with_identity: bool,
    /// Instruction counts to put in the comparison: lines `RECEIVER COLD PER_EVENT`
    /// (bench/instructions.sh).
    #[arg(long)]
    instructions: Option<PathBuf>,
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

/// How a receiver reaches AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// HTTPS to `localhost`, a test CA trusted through `SSL_CERT_FILE` (Rust) or
    /// `AWS_CA_BUNDLE` (Python, botocore).
    Tls,
    /// Plain HTTP to 127.0.0.1.
    Http,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::Tls => "TLS",
            Transport::Http => "plain HTTP",
        }
    }
}

/// The proxy in front of moto, both ways.
pub struct Endpoints {
    http: String,
    https: String,
    ca_pem: PathBuf,
}

/// A program that answers Lambda Runtime API events.
pub struct Receiver {
    name: String,
    /// The `--compare` label of the build it comes from; `None`: the current functions.
    build: Option<String>,
    /// The Python reference receiver.
    python: bool,
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
        receiver: String,
        n: usize,
        got: String,
        stdout: String,
        stderr: String,
    },
    #[error(transparent)]
    Proc(#[from] procfs::ProcError),
    #[error(transparent)]
    Events(#[from] events::EventsError),
    #[error("{receiver}: moving it into the CPU-share cgroup failed: {error}")]
    CpuShare {
        receiver: String,
        error: cpu_share::CgroupError,
    },
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
    let mut proxy = Proxy::start(&moto.endpoint()).await;
    proxy
        .listen_tls()
        .await
        .map_err(|err| BenchError::Setup(err.to_string()))?;
    let endpoints = Endpoints {
        http: proxy.url(),
        https: proxy.tls_url().expect("listening for TLS"),
        ca_pem: proxy.ca_pem().expect("listening for TLS").to_path_buf(),
    };
    let transport = *args
        .transport
        .first()
        .ok_or_else(|| BenchError::Setup("--transport: name at least one".into()))?;
    let mut receivers = receivers(&args, scratch.path())?;
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
    // The AWS requests and wall time per event, over the first transport, printed.
    let identity_rows = async || -> Result<Vec<identity::Row>, BenchError> {
        let rows = identity::measure(
            &receivers,
            &proxy,
            (&endpoints, transport),
            BUS,
            &args.rtt_ms,
            args.identity_events,
            timeout_of(&args),
        )
        .await?;
        print!(
            "{}",
            identity::markdown(&rows, args.identity_events, transport)
        );
        Ok(rows)
    };
    if args.identity {
        identity_rows().await?;
        return Ok(());
    }
    let share = if args.no_cpu_share {
        None
    } else {
        match CpuShare::create(args.memory_mb) {
            Ok(probe) => {
                eprintln!(
                    "CPU share: {} MB = {} µs per {} µs, {}",
                    args.memory_mb,
                    cpu_share::quota_us(args.memory_mb),
                    cpu_share::PERIOD_US,
                    probe.describe()
                );
                Some(args.memory_mb)
            }
            Err(err) => {
                eprintln!("CPU share: no cgroup can be written ({err}); the cold starts at the CPU share are skipped");
                None
            }
        }
    };
    let plan = Plan {
        endpoints: &endpoints,
        transports: &args.transport,
        share,
    };
    let figures = measure_all(&receivers, &args, &plan, procfs::ticks_per_second()).await?;
    let rsa = RsaFigures {
        openssl_verify_per_s: args.openssl_rsa2048_verify_per_s,
        awslc_verify_us: args.awslc_rsa2048_verify_us,
    };
    let machine = report::machine();
    print!(
        "{}",
        report::markdown(&figures, &rsa, &machine, &args_summary(&args, share))
    );
    let rows = if args.with_identity {
        identity_rows().await?
    } else {
        Vec::new()
    };
    let instructions = match &args.instructions {
        Some(path) => compare::read_instructions(path)?,
        None => Default::default(),
    };
    print!(
        "{}",
        compare::markdown(&figures, &rows, &instructions, share, transport)
    );
    if let Some(path) = &args.json {
        let json = report::json(&figures, &rsa, &machine, &args_summary(&args, share));
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json).expect("plain data"),
        )
        .map_err(|err| BenchError::Setup(format!("writing {}: {err}", path.display())))?;
    }
    Ok(())
}

fn timeout_of(args: &Args) -> Duration {
    Duration::from_secs(args.timeout_secs)
}

fn args_summary(args: &Args, share_mb: Option<u64>) -> report::Settings {
    report::Settings {
        share_mb,
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

/// The builds measured: the current functions, then each `--compare LABEL=DIR`.
fn builds(args: &Args) -> Result<Vec<(Option<String>, PathBuf)>, BenchError> {
    let mut builds = vec![(None, args.functions.clone())];
    for pair in &args.compare {
        let (label, dir) = pair
            .split_once('=')
            .ok_or_else(|| BenchError::Setup(format!("--compare {pair}: expected LABEL=DIR")))?;
        builds.push((Some(label.to_string()), PathBuf::from(dir)));
    }
    Ok(builds)
}

fn receivers(args: &Args, scratch: &Path) -> Result<Vec<Receiver>, BenchError> {
    let common = |prefix: &str| {
        vec![
            ("HOOKWARDEN_SINK".to_string(), "s3".to_string()),
            ("HOOKWARDEN_BUCKET".to_string(), BUCKET.to_string()),
            ("HOOKWARDEN_PREFIX".to_string(), prefix.to_string()),
        ]
    };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let functions = [
        (
            "knox",
            "knox-webhook",
            Provider::Knox,
            "KNOX_CERT_KEY",
            KNOX_CERT_KEY,
        ),
        (
            "scalefusion",
            "scalefusion-webhook",
            Provider::Scalefusion,
            "SCALEFUSION_SECRET_ID",
            SCALEFUSION_SECRET_ID,
        ),
        (
            "oneaccess",
            "oneaccess-webhook",
            Provider::OneAccess,
            "ONEACCESS_SECRET_ID",
            ONEACCESS_SECRET_ID,
        ),
    ];
    let mut list = Vec::new();
    for (build, dir) in builds(args)? {
        for (function, binary, provider, variable, value) in functions {
            let name = match &build {
                None => function.to_string(),
                Some(label) => format!("{function}@{label}"),
            };
            if !wanted(function) && !wanted(&name) {
                continue;
            }
            let program = dir.join(binary);
            let size = std::fs::metadata(&program)
                .map_err(|err| {
                    BenchError::Setup(format!(
                        "{}: {err}; run bench/run.sh, which builds it",
                        program.display()
                    ))
                })?
                .len();
            // Each build stores under its own prefix: no build's events are another's duplicates.
            let mut env = common(&name.replace('@', "-"));
            env.push((variable.into(), value.into()));
            if matches!(provider, Provider::Knox) {
                // The subscription of every Knox body the bench sends (events.rs).
                env.push(("KNOX_SUBSCRIPTION_IDS".into(), "123456789123".into()));
            }
            list.push(Receiver {
                name,
                build: build.clone(),
                python: false,
                program,
                env,
                provider,
                binary_bytes: Some(size),
                tenants: 0,
            });
        }
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
            name: "python-knox".into(),
            build: None,
            python: true,
            program,
            env,
            provider: Provider::Knox,
            binary_bytes: None,
            tenants: 0,
        });
    }
    Ok(list)
}

impl Receiver {
    /// The receiver's environment when it reaches AWS through `transport`.
    fn env_over(&self, endpoints: &Endpoints, transport: Transport) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        match transport {
            Transport::Http => env.push(("AWS_ENDPOINT_URL".into(), endpoints.http.clone())),
            Transport::Tls => {
                env.push(("AWS_ENDPOINT_URL".into(), endpoints.https.clone()));
                // botocore trusts AWS_CA_BUNDLE; hookwarden, like OpenSSL, SSL_CERT_FILE.
                let variable = if self.python {
                    "AWS_CA_BUNDLE"
                } else {
                    "SSL_CERT_FILE"
                };
                env.push((
                    variable.into(),
                    endpoints.ca_pem.to_string_lossy().into_owned(),
                ));
            }
        }
        env
    }
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
                receiver: receiver.name.clone(),
                n,
                got: format!("{outcome:?}"),
                stdout: tail(process.stdout()),
                stderr: tail(process.stderr()),
            })
        }
    }
}

pub fn env_pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// What the cold starts are run over.
struct Plan<'a> {
    endpoints: &'a Endpoints,
    transports: &'a [Transport],
    /// The memory size whose CPU share the invocation runs at, if a cgroup can be written.
    share: Option<u64>,
}

/// One cold start of `receiver` over `transport`: from spawning a fresh process to its first
/// response, with the phases as the Runtime API saw them and the CPU the process used. With
/// `share_mb`, the process runs unconstrained until it first asks for an event, then at that
/// memory size's CPU share (Lambda's Init boost, then the function's own share).
async fn cold_start(
    receiver: &Receiver,
    maker: &EventMaker,
    run: usize,
    (endpoints, transport): (&Endpoints, Transport),
    share_mb: Option<u64>,
    timeout: Duration,
) -> Result<ColdStart, BenchError> {
    let cgroup_error = |error| BenchError::CpuShare {
        receiver: receiver.name.clone(),
        error,
    };
    // Declared before the process, so it is removed after the process is gone.
    let share = share_mb
        .map(CpuShare::create)
        .transpose()
        .map_err(cgroup_error)?
        .map(std::sync::Arc::new);
    let admitted = std::sync::Arc::new(std::sync::Mutex::new(None));
    // A fresh Runtime API per process: a killed process's pending long poll must not
    // swallow the next process's event.
    let api = RuntimeApi::start().await;
    let env = receiver.env_over(endpoints, transport);
    let mut process = match &share {
        None => api.spawn_function(&receiver.program, &env_pairs(&env)),
        Some(share) => {
            let (share, admitted) = (share.clone(), admitted.clone());
            api.spawn_function_then(&receiver.program, &env_pairs(&env), move |pid| {
                *admitted.lock().expect("admitted lock") = Some(share.admit(pid));
            })
        }
    };
    invoke_ok(
        &api,
        &process,
        receiver,
        maker.event(run, 0, now_ms())?,
        0,
        timeout,
    )
    .await?;
    let cpu = procfs::live_threads_cpu_time(process.id())?;
    process.kill();
    if share.is_some() {
        match admitted.lock().expect("admitted lock").take() {
            Some(Ok(())) => {}
            Some(Err(error)) => return Err(cgroup_error(error)),
            None => {
                return Err(BenchError::Setup(format!(
                    "{}: answered without asking for an event first",
                    receiver.name
                )))
            }
        }
    }
    let timeline = api.timeline();
    let spawned = process.spawned();
    let ms = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1e3;
    let (Some(first_next), Some(first)) = (timeline.first_next, timeline.invocations.first())
    else {
        return Err(BenchError::Setup(format!(
            "{}: the Runtime API saw no invocation",
            receiver.name
        )));
    };
    let answered = first.answered.unwrap_or_else(Instant::now);
    Ok(ColdStart {
        init_ms: ms(spawned, first_next),
        invocation_ms: ms(first.handed_out, answered),
        first_response_ms: ms(spawned, answered),
        cpu_ms: cpu.as_secs_f64() * 1e3,
    })
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
    cold: Vec<ColdSeries>,
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
/// of one cold start per receiver and condition (each transport, on a full core and at the
/// CPU share), then one warm process each (over the first transport), their CPU per event
/// measured in windows taken in turn (knox, scalefusion, …, knox, …); each figure is the
/// median.
async fn measure_all(
    receivers: &[Receiver],
    args: &Args,
    plan: &Plan<'_>,
    ticks: u64,
) -> Result<Vec<Figures>, BenchError> {
    let timeout = timeout_of(args);
    let makers = receivers
        .iter()
        .map(|r| EventMaker::new(r.provider))
        .collect::<Result<Vec<_>, _>>()?;
    let shares = std::iter::once(None).chain(plan.share.map(Some));
    let conditions: Vec<(Transport, Option<u64>)> = shares
        .flat_map(|share| plan.transports.iter().map(move |t| (*t, share)))
        .collect();
    let mut cold: Vec<Vec<ColdSeries>> = receivers
        .iter()
        .map(|_| {
            conditions
                .iter()
                .map(|&(transport, share_mb)| ColdSeries::new(transport, share_mb))
                .collect()
        })
        .collect();
    // Run 0 warms the page cache (and Python's bytecode cache) and is not counted.
    for run in 0..=args.cold_runs {
        eprintln!(
            "cold starts, round {} of {} ...",
            run + 1,
            args.cold_runs + 1
        );
        for (i, receiver) in receivers.iter().enumerate() {
            for (c, (series, &(transport, share_mb))) in
                cold[i].iter_mut().zip(&conditions).enumerate()
            {
                // Events unique per process: a repeat would be a duplicate, a cheaper path.
                let measured = cold_start(
                    receiver,
                    &makers[i],
                    1 + run * conditions.len() + c,
                    (plan.endpoints, transport),
                    share_mb,
                    timeout,
                )
                .await?;
                if run > 0 {
                    series.runs.push(measured);
                }
            }
        }
    }
    let transport = plan.transports[0];
    let mut warm = Vec::new();
    for ((receiver, maker), cold) in receivers.iter().zip(makers).zip(cold) {
        let api = RuntimeApi::start().await;
        let env = receiver.env_over(plan.endpoints, transport);
        let process = api.spawn_function(&receiver.program, &env_pairs(&env));
        let mut one = Warm {
            receiver,
            maker,
            api,
            process,
            run: 1 + (args.cold_runs + 1) * conditions.len(),
            n: 0,
            cpu_us: Vec::new(),
            wall_us: Vec::new(),
            cold,
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
            one.receiver.name.clone(),
            one.cold,
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
