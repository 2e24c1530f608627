//! Helpers for driving the `tidemark` binary: a device is a data directory plus a server URL.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tidemark");

/// One simulated user device: its own store directory and, maybe, a server.
pub struct Device {
    /// The data directory holding the device's `tidemark.db`.
    pub dir: TempDir,
    server: Option<String>,
}

impl Device {
    /// A device with no server configured.
    pub fn offline() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            server: None,
        }
    }

    /// A device syncing with `url`.
    pub fn with_server(url: &str) -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            server: Some(url.to_owned()),
        }
    }

    /// The command for `args` on this device, with a clean environment for the settings.
    pub fn command(&self, args: &[&str]) -> Command {
        command_for(self.dir.path(), self.server.as_deref(), args)
    }

    /// Runs `args` and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tidemark")
    }

    /// Runs `args` with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tidemark");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait tidemark")
    }

    /// Runs `args`, asserts success, and returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tidemark {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs `args` (which must print JSON) and parses standard output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Adds a todo and returns its id.
    pub fn add(&self, text: &str) -> String {
        self.ok(&["add", text]).trim().to_owned()
    }
}

/// The command for `args` against `data_dir` and `server`, isolated from the caller's settings.
pub fn command_for(data_dir: &Path, server: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("TIDEMARK_SERVER")
        .env_remove("TIDEMARK_APP_KEY")
        .env("TIDEMARK_DATA_DIR", data_dir)
        // Never the user's own sign-in: each device keeps its session next to its store.
        .env("TIDEMARK_SESSION_FILE", data_dir.join("session.json"));
    if let Some(url) = server {
        cmd.env("TIDEMARK_SERVER", url);
    }
    cmd.args(args);
    cmd
}

/// Runs the binary with no device (for `--help`).
pub fn run_raw(args: &[&str], data_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(BIN);
    if let Some(dir) = data_dir {
        cmd.env("TIDEMARK_DATA_DIR", dir);
    }
    cmd.args(args).output().expect("run tidemark")
}

/// Asserts that the command failed with exactly one line on stderr containing `needle`.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "error line lacks {needle:?}: {}",
        lines[0]
    );
}

/// A loopback URL where nothing listens (a port that was free a moment ago).
pub fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
