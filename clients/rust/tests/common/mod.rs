//! engramd for the integration tests, started as clients/conformance/README.md says: found at
//! `$ENGRAM_ENGRAMD`, else `engramd` on PATH; `--host 127.0.0.1 --port 0 --api-keys <keys.json>`
//! plus the scenario's `server.args`; the base URL read from the JSON log line whose `event` is
//! `listening`. Stopped with SIGTERM (then SIGKILL) when dropped, so a failing test stops it too.

#![allow(dead_code)] // each test binary uses part of this module

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// clients/conformance, beside this crate.
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("conformance")
}

pub fn load_scenario() -> serde_json::Value {
    let path = conformance_dir().join("scenario.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `$ENGRAM_ENGRAMD`, else `engramd` on PATH; a failure (never a skip) when neither is there.
pub fn find_engramd() -> PathBuf {
    find_engramd_in(std::env::var_os("ENGRAM_ENGRAMD"), std::env::var_os("PATH")).unwrap_or_else(|why| panic!("{why}"))
}

/// [`find_engramd`] with the environment given (testable without touching the process's).
pub fn find_engramd_in(override_: Option<OsString>, path: Option<OsString>) -> Result<PathBuf, String> {
    if let Some(p) = override_.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !is_executable(&p) {
            return Err(format!(
                "ENGRAM_ENGRAMD={} is not an executable file (build engramd: a checkout's build puts it in \
                 build/tests/engramd)",
                p.display()
            ));
        }
        return Ok(p);
    }
    std::env::split_paths(&path.unwrap_or_default())
        .map(|d| d.join("engramd"))
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            "engramd not found: set ENGRAM_ENGRAMD to its path (a checkout's build puts it in \
             build/tests/engramd) or put engramd on PATH"
                .to_string()
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub struct Server {
    child: Child,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// engramd with the conformance keys and `args` (the scenario's `server.args`).
    pub fn start(scenario: &serde_json::Value) -> Server {
        let keys_file = scenario["server"]["keys_file"].as_str().unwrap_or("keys.json");
        let keys = conformance_dir().join(keys_file);
        let keys = keys
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", keys.display()));
        let args: Vec<String> = scenario["server"]["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().expect("server.args are strings").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let engramd = find_engramd();
        let mut child = Command::new(&engramd)
            .args(["--host", "127.0.0.1", "--port", "0", "--api-keys"])
            .arg(&keys)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", engramd.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        // reads the log to the end, so engramd never blocks on a full pipe
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = listening_url(&line) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url);
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(30));
        let mut server = Server {
            child,
            url: String::new(),
            log,
        };
        match url {
            Ok(url) => server.url = url,
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                panic!(
                    "engramd did not start (exit {status:?}); its log:\n{}",
                    server.log.lock().unwrap().join("\n")
                );
            }
        }
        server
    }

    /// What engramd logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

fn listening_url(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("event")?.as_str()? != "listening" {
        return None;
    }
    Some(v.get("url")?.as_str()?.to_string())
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM (engramd drains and exits), SIGKILL after ENGRAM_CONFORMANCE_STOP_S (20 s)
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let limit = std::env::var("ENGRAM_CONFORMANCE_STOP_S")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(20.0);
        let until = Instant::now() + Duration::from_secs_f64(limit);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
