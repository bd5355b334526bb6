//! The Lambda Runtime API (the part a custom runtime talks to) on 127.0.0.1, so a built
//! function binary can be run and invoked exactly as Lambda runs it: the binary long-polls
//! `GET /2018-06-01/runtime/invocation/next`, then posts `…/{id}/response` or `…/{id}/error`;
//! a failed cold start posts `…/runtime/init/error`.
//!
//! It keeps the times Lambda's own phases are measured by ([`RuntimeApi::timeline`]): Init
//! ends when the process first asks for an event; an invocation lasts from the event being
//! handed out to the response arriving. A hook given to [`RuntimeApi::spawn_function_then`]
//! runs when the first ask arrives, before any event is handed out (the benchmark moves the
//! process into a CPU-limited cgroup there, as Lambda ends its Init boost).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::sync::{mpsc, oneshot};

use crate::serve::{response, serve, LoopbackServer, Response};

const PREFIX: &str = "/2018-06-01/runtime";
pub const FUNCTION_NAME: &str = "hookwarden-test";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:hookwarden-test";

/// Why an invocation produced no response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvocationError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The function posted to `/invocation/{id}/error` (the handler returned an error, or
    /// the runtime caught a panic).
    #[error("the function reported an error ({error_type:?}): {body}")]
    Function {
        error_type: Option<String>,
        body: serde_json::Value,
    },
    #[error("the function's response is not JSON: {0}")]
    NotJson(String),
}

type Outcome = Result<serde_json::Value, InvocationError>;

struct Queued {
    id: String,
    event: Bytes,
    deadline_ms: u64,
}

/// Runs once, on the process's first `GET …/invocation/next`.
type FirstNextHook = Box<dyn FnOnce() + Send>;

struct State {
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<serde_json::Value>>,
    at_first_next: Mutex<Option<FirstNextHook>>,
    timeline: Mutex<Timeline>,
}

/// When the phases Lambda measures began and ended, as this API saw them.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The first `GET …/invocation/next`: the end of Init.
    pub first_next: Option<Instant>,
    /// Every event handed out, in order.
    pub invocations: Vec<InvocationTimes>,
}

#[derive(Debug, Clone)]
pub struct InvocationTimes {
    pub id: String,
    /// The event went out as the answer to `…/invocation/next`.
    pub handed_out: Instant,
    /// `…/{id}/response` or `…/{id}/error` arrived.
    pub answered: Option<Instant>,
}

pub struct RuntimeApi {
    server: LoopbackServer,
    queue: mpsc::UnboundedSender<Queued>,
    state: Arc<State>,
    ids: AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let (queue, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            next: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            at_first_next: Mutex::new(None),
            timeline: Mutex::default(),
        });
        let shared = state.clone();
        let server = serve(move |request| route(shared.clone(), request)).await;
        RuntimeApi {
            server,
            queue,
            state,
            ids: AtomicU64::new(0),
        }
    }

    /// `127.0.0.1:<port>`: the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server.addr.to_string()
    }

    /// Hands `event` to the function and waits up to `timeout` for what it answers.
    pub async fn invoke(&self, event: serde_json::Value, timeout: Duration) -> Outcome {
        let id = format!(
            "00000000-0000-4000-8000-{:012}",
            self.ids.fetch_add(1, Ordering::Relaxed)
        );
        let (sender, receiver) = oneshot::channel();
        self.state
            .pending
            .lock()
            .expect("pending lock")
            .insert(id.clone(), sender);
        let deadline_ms = SystemTime::now()
            .checked_add(timeout)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(u64::MAX, |d| d.as_millis() as u64);
        let queued = Queued {
            id: id.clone(),
            event: Bytes::from(event.to_string()),
            deadline_ms,
        };
        self.queue
            .send(queued)
            .expect("the runtime API state outlives the server");
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                self.state.pending.lock().expect("pending lock").remove(&id);
                Err(InvocationError::Timeout(timeout))
            }
        }
    }

    /// What the function posted to `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<serde_json::Value> {
        self.state
            .init_error
            .lock()
            .expect("init error lock")
            .clone()
    }

    /// What this API has seen of the process's phases so far.
    pub fn timeline(&self) -> Timeline {
        self.state.timeline.lock().expect("timeline lock").clone()
    }

    /// [`RuntimeApi::spawn_function`], then `at_first_next(pid)` when the process first asks
    /// for an event, before it gets one. Use one API per process.
    pub fn spawn_function_then(
        &self,
        binary: impl AsRef<Path>,
        env: &[(&str, &str)],
        at_first_next: impl FnOnce(u32) + Send + 'static,
    ) -> FunctionProcess {
        // Held across the spawn, so a first ask that comes at once waits for the hook.
        let mut hook = self.state.at_first_next.lock().expect("hook lock");
        let process = self.spawn_function(binary, env);
        let pid = process.id();
        *hook = Some(Box::new(move || at_first_next(pid)));
        process
    }

    /// Runs `binary` as Lambda would, against this Runtime API. The environment is only the
    /// usual Lambda variables (region us-east-1, dummy credentials, no instance metadata)
    /// plus `env`, which may override them; stdout and stderr go to files read through
    /// [`FunctionProcess::stdout`] / [`FunctionProcess::stderr`].
    pub fn spawn_function(
        &self,
        binary: impl AsRef<Path>,
        env: &[(&str, &str)],
    ) -> FunctionProcess {
        self.spawn_function_without(binary, env, &[])
    }

    /// As [`RuntimeApi::spawn_function`], with the variables `removed` taken out of the
    /// environment (the dummy credentials, to make the function find others).
    pub fn spawn_function_without(
        &self,
        binary: impl AsRef<Path>,
        env: &[(&str, &str)],
        removed: &[&str],
    ) -> FunctionProcess {
        let binary = binary.as_ref();
        assert!(
            binary.is_file(),
            "no function binary at {}: build it first",
            binary.display()
        );
        let dir = tempfile::tempdir().expect("creating a log directory");
        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");
        let file = |path: &Path| std::fs::File::create(path).expect("creating a log file");
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", self.address().as_str()),
                ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/hookwarden-test"),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]test"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_SESSION_TOKEN", "testing"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("LAMBDA_TASK_ROOT", "/var/task"),
                ("TZ", ":UTC"),
            ])
            .envs(env.iter().copied());
        for name in removed {
            command.env_remove(name);
        }
        command
            .stdin(Stdio::null())
            .stdout(file(&stdout_path))
            .stderr(file(&stderr_path));
        let spawned = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", binary.display()));
        FunctionProcess {
            child,
            spawned,
            stdout_path,
            stderr_path,
            _dir: dir,
        }
    }
}

/// A running function binary; killed when dropped.
pub struct FunctionProcess {
    child: Child,
    spawned: Instant,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl FunctionProcess {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Just before the process was started.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// Everything the function wrote to stdout so far (its JSON logs).
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The exit status if the process ends within `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the function process") {
                return Some(status);
            }
            if started.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn route(state: Arc<State>, request: Request<Incoming>) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let error_type = request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return not_found(&path);
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next(&state).await,
        (Method::POST, ["invocation", id, "response"]) => {
            let outcome = serde_json::from_slice(&body)
                .map_err(|_| InvocationError::NotJson(String::from_utf8_lossy(&body).into_owned()));
            complete(&state, id, outcome)
        }
        (Method::POST, ["invocation", id, "error"]) => {
            let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
            });
            complete(
                &state,
                id,
                Err(InvocationError::Function { error_type, body }),
            )
        }
        (Method::POST, ["init", "error"]) => {
            let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
            });
            *state.init_error.lock().expect("init error lock") = Some(body);
            response(
                202,
                &[("content-type", "application/json")],
                r#"{"status":"OK"}"#,
            )
        }
        _ => not_found(&path),
    }
}

/// Long-polls like Lambda: the request stays open until an event is queued.
async fn next(state: &State) -> Response {
    let first = {
        let mut timeline = state.timeline.lock().expect("timeline lock");
        let first = timeline.first_next.is_none();
        timeline.first_next.get_or_insert_with(Instant::now);
        first
    };
    if first {
        let hook = state.at_first_next.lock().expect("hook lock").take();
        if let Some(hook) = hook {
            hook();
        }
    }
    let Some(queued) = state.next.lock().await.recv().await else {
        return response(500, &[], "the runtime API is shutting down");
    };
    state
        .timeline
        .lock()
        .expect("timeline lock")
        .invocations
        .push(InvocationTimes {
            id: queued.id.clone(),
            handed_out: Instant::now(),
            answered: None,
        });
    let deadline = queued.deadline_ms.to_string();
    let trace = format!(
        "Root=1-00000000-{:024x};Parent=0000000000000001;Sampled=0",
        queued.deadline_ms
    );
    response(
        200,
        &[
            ("content-type", "application/json"),
            ("lambda-runtime-aws-request-id", &queued.id),
            ("lambda-runtime-deadline-ms", &deadline),
            ("lambda-runtime-invoked-function-arn", FUNCTION_ARN),
            ("lambda-runtime-trace-id", &trace),
        ],
        queued.event,
    )
}

fn complete(state: &State, id: &str, outcome: Outcome) -> Response {
    let answered = Instant::now();
    if let Some(times) = state
        .timeline
        .lock()
        .expect("timeline lock")
        .invocations
        .iter_mut()
        .find(|times| times.id == id)
    {
        times.answered.get_or_insert(answered);
    }
    match state.pending.lock().expect("pending lock").remove(id) {
        Some(waiter) => {
            // The invoker may have timed out and gone; that is its business.
            let _ = waiter.send(outcome);
            response(
                202,
                &[("content-type", "application/json")],
                r#"{"status":"OK"}"#,
            )
        }
        None => response(400, &[], format!("no pending invocation {id}")),
    }
}

fn not_found(path: &str) -> Response {
    response(404, &[], format!("no route {path}"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::RuntimeApi;

    /// A minimal custom runtime: waits a little (its Init), asks for one event, answers it.
    const ONE_EVENT: &str = r#"
import http.client, os, time
time.sleep(0.05)
api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
api.request("GET", "/2018-06-01/runtime/invocation/next")
answer = api.getresponse()
request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
answer.read()
time.sleep(0.05)
api.request("POST", "/2018-06-01/runtime/invocation/" + request_id + "/response", body=b'{"statusCode":200}')
api.getresponse().read()
time.sleep(5)
"#;

    #[tokio::test]
    async fn the_timeline_splits_init_from_the_invocation_and_the_hook_runs_in_between() {
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3");
        let python = String::from_utf8(python.stdout).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("bootstrap");
        std::fs::write(&program, format!("#!{}\n{ONE_EVENT}", python.trim())).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();

        let api = RuntimeApi::start().await;
        let seen = Arc::new(Mutex::new(None));
        let hooked = seen.clone();
        let process = api.spawn_function_then(&program, &[], move |pid| {
            *hooked.lock().unwrap() = Some((pid, std::time::Instant::now()));
        });
        let outcome = api
            .invoke(serde_json::json!({}), Duration::from_secs(20))
            .await;
        assert_eq!(outcome.unwrap()["statusCode"], 200);

        let (pid, hooked_at) = seen.lock().unwrap().expect("the hook ran");
        assert_eq!(pid, process.id());
        let timeline = api.timeline();
        let first_next = timeline.first_next.expect("asked for an event");
        let [invocation] = timeline.invocations.as_slice() else {
            panic!("{timeline:?}");
        };
        let answered = invocation.answered.expect("answered");
        assert!(first_next - process.spawned() >= Duration::from_millis(50));
        assert!(first_next <= hooked_at && hooked_at <= invocation.handed_out);
        assert!(answered - invocation.handed_out >= Duration::from_millis(50));
    }
}
