//! The GUI test bench: a private X display (Xvfb), tauri-driver on free loopback ports with the
//! app's environment (its own data directory and server), and [`App`], the app as a user sees
//! it: type, click, read the list, the badge and the status line, take screenshots.
//!
//! Nothing is skipped silently: a missing Xvfb, tauri-driver or WebKitWebDriver fails the test
//! with what to install, unless `TIDEMARK_SKIP_GUI_TESTS=1` says to skip (printed).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, Command};

use crate::webdriver::{ENTER, Element, Session};

/// How long the UI may take to show an expected state.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// True (after printing why) when GUI tests are explicitly disabled.
pub fn skipped(test: &str) -> bool {
    match std::env::var("TIDEMARK_SKIP_GUI_TESTS") {
        Ok(v) if v == "1" || v.eq_ignore_ascii_case("true") => {
            println!("SKIPPED {test}: TIDEMARK_SKIP_GUI_TESTS={v} disables the GUI tests");
            true
        }
        _ => false,
    }
}

/// Where screenshots go: `docs/screenshots/` in the repository (or `TIDEMARK_SCREENSHOTS`).
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("TIDEMARK_SCREENSHOTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        PathBuf::from,
    )
}

/// A free TCP port on 127.0.0.1 (closed again, for a child process to take).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds a program on `PATH` or in `~/.cargo/bin`.
fn program(name: &str, install: &str) -> Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} not found: {install} (or set TIDEMARK_SKIP_GUI_TESTS=1 to skip the GUI tests)"))
}

/// A private X display, tauri-driver, and a home for one app (its data directory).
pub struct Bench {
    _xvfb: Child,
    driver: Child,
    driver_url: String,
    dir: TempDir,
    log: PathBuf,
}

/// Capabilities dropped from the app's bounding set by [`Bench::start_unprivileged`]: the
/// ones that let root ignore file permissions (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`).
const FILE_PERMISSION_CAPS: [libc::c_ulong; 2] = [1, 2];

impl Bench {
    /// Starts Xvfb and tauri-driver for an app syncing with `server` (None: no server set).
    pub async fn start(server: Option<&str>) -> Result<Self> {
        Self::start_with(server, false).await
    }

    /// Like [`Bench::start`], but the app obeys file permissions even when the tests run as
    /// root (as in CI containers): tauri-driver, and so WebKitWebDriver and the app, start
    /// without the capabilities that let root write a read-only file. This needs only
    /// `CAP_SETPCAP` (root has it in a default container); no mount, no `chattr`.
    pub async fn start_unprivileged(server: Option<&str>) -> Result<Self> {
        Self::start_with(server, true).await
    }

    async fn start_with(server: Option<&str>, unprivileged: bool) -> Result<Self> {
        let xvfb_bin = program("Xvfb", "install the Debian package xvfb")?;
        let driver_bin = program("tauri-driver", "run `cargo install tauri-driver --locked`")?;
        program(
            "WebKitWebDriver",
            "install the Debian package webkit2gtk-driver",
        )?;
        let dir = tempfile::tempdir()?;
        for sub in ["data", "xdg-data", "xdg-config", "xdg-cache", "runtime"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }

        // -displayfd 1: Xvfb picks a free display and writes its number to our pipe.
        let mut xvfb = Command::new(xvfb_bin)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start Xvfb")?;
        let mut out = xvfb.stdout.take().context("Xvfb has no stdout")?;
        let mut number = String::new();
        tokio::time::timeout(Duration::from_secs(15), async {
            let mut buf = [0u8; 16];
            while !number.ends_with('\n') {
                let n = out.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                number.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .context("Xvfb did not report its display")??;
        let display = format!(":{}", number.trim());
        anyhow::ensure!(number.trim().parse::<u32>().is_ok(), "Xvfb said {number:?}");

        let port = free_port()?;
        let native_port = free_port()?;
        let log = dir.path().join("driver-and-app.log");
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(driver_bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("DISPLAY", &display)
        .env("TIDEMARK_DATA_DIR", dir.path().join("data"))
        .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
        // No session bus, as in a bare X session: no secret store, so the session's token is
        // kept in the private session file (and the tests can look for it).
        .env("DBUS_SESSION_BUS_ADDRESS", "disabled:")
        .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
        .env("XDG_RUNTIME_DIR", dir.path().join("runtime"))
        .env("TIDEMARK_LOG", "info")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env_remove("TIDEMARK_APP_KEY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        // Its own process group, so that the drop ends WebKitWebDriver and the app with it
        // (killing tauri-driver alone leaves them running).
        .process_group(0)
        .kill_on_drop(true);
        match server {
            Some(url) => cmd.env("TIDEMARK_SERVER", url),
            None => cmd.env_remove("TIDEMARK_SERVER"),
        };
        // SAFETY: getuid(2) is async-signal-safe and touches no memory.
        if unprivileged && unsafe { libc::getuid() } == 0 {
            // SAFETY: runs in the forked child before exec and only calls prctl(2), which is
            // async-signal-safe; it allocates nothing and touches no shared state.
            unsafe {
                cmd.pre_exec(|| {
                    for cap in FILE_PERMISSION_CAPS {
                        if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let driver = cmd.spawn().context("cannot start tauri-driver")?;
        let driver_url = format!("http://127.0.0.1:{port}");
        let bench = Self {
            _xvfb: xvfb,
            driver,
            driver_url,
            dir,
            log,
        };
        bench.wait_driver().await?;
        Ok(bench)
    }

    async fn wait_driver(&self) -> Result<()> {
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(res) = http.get(format!("{}/status", self.driver_url)).send().await
                && res.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("tauri-driver did not answer; its log:\n{}", self.log_text())
    }

    /// The app's data directory (store and settings).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The app's config directory (`XDG_CONFIG_HOME`: the session file lives under it).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("xdg-config")
    }

    /// What tauri-driver, WebKitWebDriver and the app printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Launches the app and waits for its first render.
    pub async fn launch(&self) -> Result<App> {
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_tidemark-app"));
        let session = Session::start(&self.driver_url, &binary)
            .await
            .with_context(|| format!("cannot launch the app; log:\n{}", self.log_text()))?;
        let app = App { s: session };
        app.s
            .wait_for("the first render", UI_TIMEOUT, || async {
                let ready = app
                    .js("return document.body.dataset.ready === 'true'")
                    .await?;
                Ok(ready.as_bool().unwrap_or(false).then_some(()))
            })
            .await
            .with_context(|| format!("log:\n{}", self.log_text()))?;
        Ok(app)
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) on the process group this bench created; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.driver.start_kill();
        if std::thread::panicking() {
            eprintln!("---- tauri-driver and app log ----\n{}", self.log_text());
        }
    }
}

/// One todo as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The text shown.
    pub text: String,
    /// Whether its checkbox is ticked.
    pub done: bool,
}

/// The running app, driven like a user would.
pub struct App {
    /// The WebDriver session.
    pub s: Session,
}

impl App {
    /// Runs a script in the page.
    pub async fn js(&self, script: &str) -> Result<Value> {
        self.s.script(script, vec![]).await
    }

    /// Waits until `script` returns something other than null, false or undefined; returns it.
    pub async fn wait_js(&self, what: &str, script: &str) -> Result<Value> {
        self.s
            .wait_for(what, UI_TIMEOUT, || async {
                let v = self.js(script).await?;
                Ok((!v.is_null() && v != Value::Bool(false)).then_some(v))
            })
            .await
    }

    /// Closes the app.
    pub async fn quit(self) -> Result<()> {
        self.s.quit().await
    }

    /// Types `text` into the new-todo field and presses Enter.
    pub async fn add_with_enter(&self, text: &str) -> Result<()> {
        let input = self.s.find("#new-text").await?;
        self.s.type_text(&input, text).await?;
        self.s.type_text(&input, ENTER).await
    }

    /// Types `text` into the new-todo field and clicks Add.
    pub async fn add_with_button(&self, text: &str) -> Result<()> {
        self.fill("#new-text", text).await?;
        self.click("#add").await
    }

    /// The list as shown.
    pub async fn rows(&self) -> Result<Vec<Row>> {
        let v = self
            .js(
                "return [...document.querySelectorAll('#todos li')].map(li => ({ \
                 text: (li.querySelector('.text') || {}).textContent || '', \
                 done: li.querySelector('input.complete').checked }))",
            )
            .await?;
        Ok(v.as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| Row {
                        text: r["text"].as_str().unwrap_or_default().to_owned(),
                        done: r["done"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until the list shows exactly `texts` (in order).
    pub async fn wait_texts(&self, texts: &[&str]) -> Result<Vec<Row>> {
        self.s
            .wait_for(&format!("the list {texts:?}"), UI_TIMEOUT, || async {
                let rows = self.rows().await?;
                let shown: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
                Ok((shown == texts).then_some(rows))
            })
            .await
    }

    /// An element inside the list item showing `text`, found in one script so a re-render
    /// cannot come between finding the row and finding the element; retried until it shows.
    pub async fn in_row(&self, text: &str, css: &str) -> Result<Element> {
        self.s
            .wait_for(
                &format!("{css} in the todo {text:?}"),
                UI_TIMEOUT,
                || async {
                    let v = self
                        .s
                        .script(
                            "const li = [...document.querySelectorAll('#todos li')] \
                           .find(li => li.querySelector('.text')?.textContent === arguments[0]); \
                         return li ? li.querySelector(arguments[1]) : null",
                            vec![json!(text), json!(css)],
                        )
                        .await?;
                    Ok(Element::from_json(&v))
                },
            )
            .await
    }

    /// Clicks an element inside the list item showing `text` (retried over re-renders).
    pub async fn click_in_row(&self, text: &str, css: &str) -> Result<()> {
        self.s
            .wait_for(
                &format!("a click on {css} in {text:?}"),
                UI_TIMEOUT,
                || async {
                    let el = self.in_row(text, css).await?;
                    self.s.click(&el).await?;
                    Ok(Some(()))
                },
            )
            .await
    }

    /// The badge's number (0 when hidden), and whether it is shown.
    pub async fn badge(&self) -> Result<(u64, bool)> {
        let v = self
            .js("const b = document.getElementById('badge'); return [Number(b.dataset.count), !b.hidden]")
            .await?;
        Ok((v[0].as_u64().unwrap_or(0), v[1].as_bool().unwrap_or(false)))
    }

    /// Waits until the badge shows `n` (0: hidden).
    pub async fn wait_badge(&self, n: u64) -> Result<()> {
        self.s
            .wait_for(&format!("badge {n}"), UI_TIMEOUT, || async {
                let (count, shown) = self.badge().await?;
                Ok((count == n && shown == (n > 0)).then_some(()))
            })
            .await
    }

    /// The status line (main text, detail).
    pub async fn status(&self) -> Result<(String, String)> {
        let main = self.s.text(&self.s.find("#status-text").await?).await?;
        let detail = self
            .js("const d = document.getElementById('status-detail'); return d.hidden ? '' : d.textContent")
            .await?;
        Ok((main, detail.as_str().unwrap_or_default().to_owned()))
    }

    /// Waits until the status line's main text starts with `prefix`.
    pub async fn wait_status(&self, prefix: &str) -> Result<(String, String)> {
        self.s
            .wait_for(&format!("status {prefix:?}"), UI_TIMEOUT, || async {
                let status = self.status().await?;
                Ok(status.0.starts_with(prefix).then_some(status))
            })
            .await
    }

    /// Clicks Refresh and waits until the sync is over (spinner gone).
    pub async fn refresh(&self) -> Result<()> {
        self.s.click(&self.s.find("#refresh").await?).await?;
        self.wait_idle().await
    }

    /// Waits until no sync runs.
    pub async fn wait_idle(&self) -> Result<()> {
        // Give the click a moment to start the sync before watching it end.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.s
            .wait_for("the sync to finish", UI_TIMEOUT, || async {
                let busy = self
                    .js("return document.getElementById('refresh').classList.contains('busy')")
                    .await?;
                Ok((!busy.as_bool().unwrap_or(true)).then_some(()))
            })
            .await
    }

    /// The text of a visible element, or None when it is hidden.
    pub async fn shown_text(&self, id: &str) -> Result<Option<String>> {
        let v = self
            .s
            .script(
                "const e = document.getElementById(arguments[0]); \
                 return e && !e.hidden && e.offsetParent !== null ? e.textContent : null",
                vec![json!(id)],
            )
            .await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Waits until the element `id` is shown and returns its text.
    pub async fn wait_shown(&self, id: &str) -> Result<String> {
        self.s
            .wait_for(&format!("#{id} to show"), UI_TIMEOUT, || {
                self.shown_text(id)
            })
            .await
    }

    /// Whether a dialog is open.
    pub async fn dialog_open(&self, id: &str) -> Result<bool> {
        let v = self
            .s
            .script(
                "return document.getElementById(arguments[0]).open",
                vec![json!(id)],
            )
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// The value of an input.
    pub async fn value(&self, css: &str) -> Result<String> {
        let v = self
            .s
            .script(
                "return document.querySelector(arguments[0]).value",
                vec![json!(css)],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Replaces the content of an input (scrolled into view first, as for [`App::click`]).
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        self.scroll_to(css).await?;
        let el = self.s.find(css).await?;
        self.s
            .clear(&el)
            .await
            .with_context(|| format!("clearing {css}"))?;
        if !text.is_empty() {
            self.s
                .type_text(&el, text)
                .await
                .with_context(|| format!("typing into {css}"))?;
        }
        Ok(())
    }

    /// Scrolls the element matching `css` into view: WebKitWebDriver does not scroll inside a
    /// dialog that scrolls, and refuses to act on an element below its fold.
    async fn scroll_to(&self, css: &str) -> Result<()> {
        self.s
            .script(
                "document.querySelector(arguments[0])?.scrollIntoView({block: 'nearest'})",
                vec![json!(css)],
            )
            .await?;
        Ok(())
    }

    /// Clicks the element matching `css`, scrolled into view first (see [`App::scroll_to`]).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.scroll_to(css).await?;
        self.s
            .click(&self.s.find(css).await?)
            .await
            .with_context(|| format!("clicking {css}"))
    }

    /// Saves a screenshot as `name` in the screenshot directory.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self.s.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(name);
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

impl App {
    /// Opens the rename field of the todo showing `text` with its Edit button.
    pub async fn click_edit(&self, text: &str) -> Result<()> {
        self.click_in_row(text, ".edit").await?;
        self.s
            .wait_for("the rename field", UI_TIMEOUT, || async {
                Ok(self
                    .s
                    .find_all("#todos .edit-input")
                    .await?
                    .first()
                    .map(|_| ()))
            })
            .await
    }
}
