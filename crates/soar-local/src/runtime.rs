//! Function binaries as Lambda runs them: each a process polling a Lambda runtime API on
//! 127.0.0.1 (`AWS_LAMBDA_RUNTIME_API`, the interface `lambda_runtime` speaks: `GET
//! /2018-06-01/runtime/invocation/next`, `POST .../invocation/<id>/response` or `/error`), one
//! invocation at a time. Unlike the emulator, the process can be killed in the middle of an
//! invocation, as Lambda ends one at its timeout or when the sandbox dies: the invocation then
//! fails, and the next one starts a fresh process (a cold start).

use crate::pump::Invoke;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long an invocation may run before its process is ended (the functions' longest timeout).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Answers of the invocations in flight, by request id.
type Answers = HashMap<u64, tokio::sync::oneshot::Sender<Result<Value, String>>>;

#[derive(Default)]
struct Api {
    /// Counts process starts: a connection serves only the process that was running when it
    /// was accepted, so a dead process's poller never takes an event meant for the next one.
    generation: std::sync::atomic::AtomicU64,
    /// Events not yet handed to the process: (request id, body).
    pending: Mutex<VecDeque<(u64, String)>>,
    ready: Condvar,
    answers: Mutex<Answers>,
}

/// One function binary under a runtime API of its own.
pub struct FunctionProcess {
    pub name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    address: String,
    api: Arc<Api>,
    child: Mutex<Option<Child>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Invocations to kill the process in, counted from 1, with how long after the event was
    /// handed out.
    kills: Mutex<Vec<(u64, Duration)>>,
    invocations: std::sync::atomic::AtomicU64,
    /// How many times the process was killed before it answered, and started.
    pub killed: std::sync::atomic::AtomicU64,
    pub started: std::sync::atomic::AtomicU64,
    log: Option<std::fs::File>,
}

impl FunctionProcess {
    /// `env` is all the process sees besides the runtime API's address; `log` takes its output.
    pub fn new(
        name: &str,
        binary: PathBuf,
        env: Vec<(String, String)>,
        log: Option<std::fs::File>,
    ) -> Result<FunctionProcess, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?.to_string();
        let api = Arc::new(Api::default());
        let serving = api.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let api = serving.clone();
                let generation = api.generation.load(std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = serve(socket, &api, generation);
                });
            }
        });
        Ok(FunctionProcess {
            name: name.to_string(),
            binary,
            env,
            address,
            api,
            child: Mutex::new(None),
            next_id: Default::default(),
            kills: Mutex::new(Vec::new()),
            invocations: Default::default(),
            killed: Default::default(),
            started: Default::default(),
            log,
        })
    }

    /// Kills the process `after` the `invocation`-th event (from 1) was handed to it.
    pub fn kill_during(&self, invocation: u64, after: Duration) {
        self.lock_kills().push((invocation, after));
    }

    fn lock_kills(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Duration)>> {
        self.kills.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running process, started if there is none (or it died).
    fn ensure_running(&self) -> Result<u32, String> {
        let mut child = self.lock_child();
        if let Some(running) = child.as_mut()
            && running.try_wait().ok().flatten().is_none()
        {
            return Ok(running.id());
        }
        let output = |log: &Option<std::fs::File>| match log.as_ref().and_then(|f| f.try_clone().ok()) {
            Some(file) => Stdio::from(file),
            None => Stdio::null(),
        };
        self.api.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Pollers of the dead process wake up and leave.
        self.api.ready.notify_all();
        let spawned = Command::new(&self.binary)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            // What Lambda sets in every sandbox (`lambda_runtime` reads them at start).
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", self.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .stdout(output(&self.log))
            .stderr(output(&self.log))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let pid = spawned.id();
        *child = Some(spawned);
        self.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(pid)
    }

    fn exited(&self) -> bool {
        let mut child = self.lock_child();
        child.as_mut().is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    fn kill_now(&self) {
        if let Some(child) = self.lock_child().as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}

#[async_trait]
impl Invoke for FunctionProcess {
    async fn invoke(&self, _function: &str, payload: Value) -> Result<Value, String> {
        use std::sync::atomic::Ordering;
        self.ensure_running()?;
        let n = self.invocations.fetch_add(1, Ordering::Relaxed) + 1;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.api
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, answer);
        self.api
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((id, payload.to_string()));
        self.api.ready.notify_all();
        let mut answered = answered;
        let kill = self
            .lock_kills()
            .iter()
            .find(|(at, _)| *at == n)
            .map(|(_, after)| *after);
        if let Some(after) = kill {
            tokio::time::sleep(after).await;
            // Only a kill before the answer is a crash mid-invocation; one that came too late
            // moves to the next invocation.
            if let Ok(result) = answered.try_recv() {
                self.lock_kills().push((n + 1, after));
                return result;
            }
            self.kill_now();
            self.killed.fetch_add(1, Ordering::Relaxed);
        }
        // Lambda's timeout: an invocation that never answers ends the process.
        let deadline = tokio::time::Instant::now() + INVOCATION_TIMEOUT;
        loop {
            if tokio::time::Instant::now() > deadline {
                self.kill_now();
            }
            match tokio::time::timeout(Duration::from_millis(100), &mut answered).await {
                Ok(Ok(result)) => return result,
                Ok(Err(_)) => return Err(format!("{}: the runtime API dropped the invocation", self.name)),
                Err(_) if self.exited() => {
                    // The event may still be queued (the process died before taking it): drop it.
                    self.api
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|(pending, _)| *pending != id);
                    self.api.answers.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                    return Err(format!(
                        "{}: the function process exited during the invocation",
                        self.name
                    ));
                }
                Err(_) => {}
            }
        }
    }
}

/// Several functions by name, as the pump invokes them.
pub struct Functions(pub Vec<FunctionProcess>);

impl Functions {
    pub fn get(&self, name: &str) -> Option<&FunctionProcess> {
        self.0.iter().find(|f| f.name == name)
    }
}

#[async_trait]
impl Invoke for Functions {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String> {
        match self.get(function) {
            Some(f) => f.invoke(function, payload).await,
            None => Err(format!("no function {function}")),
        }
    }
}

fn serve(socket: TcpStream, api: &Api, generation: u64) -> Result<(), String> {
    let mut writer = socket.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(socket);
    loop {
        let (method, path, body) = read_request(&mut reader)?;
        if method == "GET" && path.ends_with("/invocation/next") {
            let (id, event) = {
                let mut pending = api.pending.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if api.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
                        return Err("the process of this connection is gone".into());
                    }
                    if let Some(next) = pending.pop_front() {
                        break next;
                    }
                    pending = api.ready.wait(pending).unwrap_or_else(|e| e.into_inner());
                }
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 120_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:local\r\n\
                 content-length: {}\r\n\r\n",
                event.len()
            );
            let handed = writer
                .write_all(head.as_bytes())
                .and_then(|()| writer.write_all(event.as_bytes()));
            if let Err(e) = handed {
                // The poller was a process that died meanwhile: the event waits for the next one.
                api.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_front((id, event));
                api.ready.notify_all();
                return Err(e.to_string());
            }
            continue;
        }
        // `/runtime/invocation/<id>/response` or `/error`; `/runtime/init/error` names no id.
        let segments: Vec<&str> = path.split('/').collect();
        let id = segments
            .iter()
            .position(|s| *s == "invocation")
            .and_then(|i| segments.get(i + 1))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(id) = id
            && let Some(answer) = api.answers.lock().unwrap_or_else(|e| e.into_inner()).remove(&id)
        {
            let text = String::from_utf8_lossy(&body).to_string();
            let result = if path.ends_with("/error") {
                Err(format!("function error: {text}"))
            } else {
                serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text}"))
            };
            let _ = answer.send(result);
        }
        let ok = "{\"status\":\"OK\"}";
        let head = format!(
            "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            ok.len()
        );
        writer.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        writer.write_all(ok.as_bytes()).map_err(|e| e.to_string())?;
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<(String, String, Vec<u8>), String> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| format!("runtime API: {e}"))? == 0 {
        return Err("connection closed".into());
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| e.to_string())?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok((method, path, body))
}
