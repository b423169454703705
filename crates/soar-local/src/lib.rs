//! soar's tooling: what the CLI and the tests use and no function links.
//!
//! - The local stack (this module): a moto server (the local AWS endpoint) and cargo lambda's
//!   runtime emulator, each started on a free 127.0.0.1 port as a managed process that is
//!   stopped, with everything it started, when dropped. Nothing listens on other addresses.
//! - [`pump`]: delivers queue messages to functions like Lambda's SQS event source (local runs).
//! - [`setup`]: creates the table, queues and EventBridge rule idempotently (local or real AWS).
//! - [`lab`]: a VPC with instances to respond to, on the local endpoint.
//! - [`faults`]: a proxy in front of the local endpoint failing a set share of the calls the
//!   ways AWS calls fail (throttling, 5xx, timeouts, resets).
//! - [`findings`]: Security Hub's and GuardDuty's finding APIs that moto lacks (the verdict
//!   written back), recorded and answered on 127.0.0.1.
//! - [`runtime`]: function binaries under a Lambda runtime API of their own, killable
//!   mid-invocation.

pub mod faults;
pub mod findings;
pub mod lab;
pub mod pump;
pub mod runtime;
mod server;
pub mod setup;

use crate::pump::Invoke;
use async_trait::async_trait;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub(crate) fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The project's Python venv (`make venv`), or `SOAR_VENV`.
pub fn venv_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("SOAR_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join(".venv"))
}

/// A program from the venv, with a message saying how to get it when it is missing.
pub(crate) fn venv_bin(workspace: &Path, name: &str) -> Result<PathBuf, String> {
    let path = venv_dir(workspace).join("bin").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: run `make venv` (installs tests/requirements.txt into .venv) or set SOAR_VENV",
            path.display()
        ))
    }
}

/// A child process in its own process group: dropping it stops the whole group (cargo lambda
/// starts the functions as grandchildren).
pub struct Managed {
    child: Child,
    name: &'static str,
}

impl Managed {
    pub fn spawn(name: &'static str, command: &mut Command) -> Result<Managed, String> {
        let child = command
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", command.get_program()))?;
        Ok(Managed { child, name })
    }

    /// `Some(status)` if the process already ended (it failed to start, usually).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn signal_group(&self, signal: Signal) {
        // The group may be gone already: nothing to stop then.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.signal_group(Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The leader is gone; make sure no straggler of its group is left.
                self.signal_group(Signal::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop within 5 s: killing it", self.name);
        self.signal_group(Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A moto server on 127.0.0.1.
pub struct Moto {
    _process: Managed,
    pub port: u16,
    scheme: &'static str,
}

impl Moto {
    pub fn start(workspace: &Path) -> Result<Moto, String> {
        Moto::start_with(workspace, &[], "http")
    }

    /// A moto server answering HTTPS with the certificate and key in these PEM files.
    pub fn start_https(workspace: &Path, certificate: &Path, key: &Path) -> Result<Moto, String> {
        let tls = ["-c".as_ref(), certificate.as_os_str(), "-k".as_ref(), key.as_os_str()];
        Moto::start_with(workspace, &tls, "https")
    }

    /// A moto server that answers one request at a time. DynamoDB applies each conditional write
    /// atomically; moto's threaded server checks a condition and writes the item in two steps
    /// another request can run between (two `attribute_not_exists` writes of one item can both
    /// succeed), so a test of racing writers needs this one.
    pub fn start_serial(workspace: &Path) -> Result<Moto, String> {
        let port = free_port()?;
        let script = format!(
            "from werkzeug.serving import run_simple\n\
             from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app\n\
             run_simple('127.0.0.1', {port}, DomainDispatcherApplication(create_backend_app), threaded=False)\n"
        );
        let mut command = Command::new(venv_bin(workspace, "python")?);
        command.args(["-c", &script]);
        Moto::spawned(port, &mut command, "http")
    }

    fn start_with(workspace: &Path, extra: &[&std::ffi::OsStr], scheme: &'static str) -> Result<Moto, String> {
        let port = free_port()?;
        let mut command = Command::new(venv_bin(workspace, "moto_server")?);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]).args(extra);
        Moto::spawned(port, &mut command, scheme)
    }

    fn spawned(port: u16, command: &mut Command, scheme: &'static str) -> Result<Moto, String> {
        let mut process = Managed::spawn("moto server", command.stdout(Stdio::null()).stderr(Stdio::null()))?;
        if !wait_for_port(port, Duration::from_secs(60)) {
            return Err(format!(
                "moto server did not listen on 127.0.0.1:{port} within 60 s ({:?})",
                process.exited()
            ));
        }
        Ok(Moto {
            _process: process,
            port,
            scheme,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }
}

/// cargo lambda's emulator (`cargo lambda watch`) serving the workspace's functions on 127.0.0.1.
pub struct LambdaEmulator {
    _process: Managed,
    pub port: u16,
}

impl LambdaEmulator {
    /// `env` is what the functions see (besides the inherited environment); `log` receives the
    /// emulator's and the functions' output.
    pub fn start(workspace: &Path, env: &[(String, String)], log: std::fs::File) -> Result<LambdaEmulator, String> {
        let port = free_port()?;
        let venv_bin_dir = venv_dir(workspace).join("bin");
        venv_bin(workspace, "cargo-lambda")?;
        let mut path = OsString::from(&venv_bin_dir);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let mut command = Command::new("cargo");
        command
            .current_dir(workspace)
            .env("PATH", path)
            .args([
                "lambda",
                "watch",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .args(["--ignore-changes", "--quiet"])
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        for (k, v) in env {
            command.arg("--env-var").arg(format!("{k}={v}"));
        }
        let mut process = Managed::spawn("cargo lambda watch", &mut command)?;
        if !wait_for_port(port, Duration::from_secs(120)) {
            return Err(format!(
                "cargo lambda watch did not listen on 127.0.0.1:{port} within 120 s ({:?})",
                process.exited()
            ));
        }
        Ok(LambdaEmulator {
            _process: process,
            port,
        })
    }

    pub fn invoker(&self) -> HttpInvoker {
        HttpInvoker::new(self.port)
    }
}

/// Invokes functions through the emulator's Lambda invoke API, like `cargo lambda invoke`.
pub struct HttpInvoker {
    port: u16,
    http: reqwest::Client,
}

impl HttpInvoker {
    pub fn new(port: u16) -> Self {
        HttpInvoker {
            port,
            http: soar_https::web_client().build().unwrap_or_default(),
        }
    }
}

#[async_trait]
impl Invoke for HttpInvoker {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String> {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        );
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(payload.to_string())
            // The first invocation of a function compiles it.
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .map_err(|e| format!("invoking {function}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("invoking {function}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{function} answered {status}: {text}"));
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{function} answered non-JSON ({e}): {text}"))?;
        // The emulator reports function errors in the body.
        if value.get("errorType").is_some() || value.get("errorMessage").is_some() {
            return Err(format!("{function} failed: {value}"));
        }
        Ok(value)
    }
}
