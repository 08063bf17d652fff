//! End-to-end: the real `mnemo` binary, started with `serve` on port 0 over a temporary
//! store, driven over real HTTP sockets and stopped with real signals; and its failures
//! at start-up. Needs `make setup` (the model files in `.deps`).

mod cli_local;
mod cli_transfer;
mod config_check;
mod http;
mod serve;
mod startup_errors;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a start-up (model loading included) or an exit may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `mnemo ARGS` with a clean environment: only the given variables, plus the embed paths
/// of `make setup` (which a test may override), run in `cwd`.
fn mnemo(args: &[&str], cwd: &Path, vars: &[(&str, &str)]) -> Command {
    let root = repo_root();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mnemo"));
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env(
            "MNEMO__EMBED__MODEL_DIR",
            root.join(".deps/models/all-MiniLM-L6-v2"),
        )
        .env(
            "MNEMO__EMBED__ORT_DYLIB_PATH",
            root.join(".deps/python/onnxruntime/capi/libonnxruntime.so.1.24.4"),
        )
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A running `mnemo serve`.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The store folder, and the working directory.
    dir: TempDir,
}

impl Server {
    /// Starts `mnemo serve` on port 0 with a store in a fresh temporary folder and waits
    /// for its `listening on` line.
    fn start(vars: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let mut all = vec![
            ("MNEMO__SERVER__ADDR", "127.0.0.1:0"),
            ("MNEMO__STORE__PATH", store.to_str().unwrap()),
        ];
        all.extend_from_slice(vars);
        let mut child = mnemo(&["serve"], dir.path(), &all).spawn().unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        let (lines_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "no `listening on` line; stderr:\n{}",
                stderr.lock().unwrap()
            )
        });
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line on stdout: {line:?}"))
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            stderr,
            dir,
        }
    }

    fn get(&self, path: &str) -> Response {
        get(self.addr, path)
    }

    /// Polls `/readyz` until it answers 200.
    fn wait_ready(&self) -> Response {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let response = self.get("/readyz");
            if response.status == 200 || Instant::now() > deadline {
                return response;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, signal).expect("signal sent");
    }

    /// Waits for the process to exit; its status and everything it wrote to stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let status = wait_with_patience(&mut self.child);
        // The reader thread finishes when the pipe closes.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&self.stderr) > 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

fn wait_with_patience(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mnemo did not exit within {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command that is expected to exit by itself: status, stdout, stderr.
fn run(mut command: Command) -> (ExitStatus, String, String) {
    let mut child = command.spawn().unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let status = wait_with_patience(&mut child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while (Arc::strong_count(&stdout) > 1 || Arc::strong_count(&stderr) > 1)
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(10));
    }
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();
    (status, stdout, stderr)
}

struct Response {
    status: u16,
    headers: String,
    body: String,
}

impl Response {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body))
    }
}

/// A minimal HTTP/1.1 `GET` on a fresh connection.
fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("reads a response");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Response {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}
