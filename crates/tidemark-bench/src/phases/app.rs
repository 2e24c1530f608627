//! The desktop app's figures, measured by `scripts/bench-app` and read from its output.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::report::{Row, Section};

/// The desktop app's figures, as `scripts/bench-app` prints them.
#[derive(Debug, Deserialize)]
struct AppFigures {
    launch_ms: f64,
    add_ms: f64,
}

/// The app's rows, read from the file `scripts/bench` saved `scripts/bench-app`'s line in.
pub fn app(figures: Option<&Path>, missing: &str) -> anyhow::Result<Section> {
    let mut section = Section::new("Desktop app, 10 000 items");
    let launch = "launch to 10 000 items shown";
    let add = "add one item with 10 000 present";
    let Some(path) = figures else {
        section.rows.push(Row::missing(launch, missing, "≤ 1.5 s"));
        section.rows.push(Row::missing(add, missing, ""));
        return Ok(section);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{} holds no JSON line", path.display()))?;
    let figures: AppFigures = serde_json::from_str(line)
        .with_context(|| format!("{} does not hold the app's figures: {line}", path.display()))?;
    section.rows.push(Row::target(
        launch,
        format!("{:.0} ms", figures.launch_ms),
        "≤ 1.5 s",
        figures.launch_ms <= 1500.0,
    ));
    section
        .rows
        .push(Row::info(add, format!("{:.1} ms", figures.add_ms)));
    section
        .notes
        .push("measured by `scripts/bench-app` in its own run of the app.".to_owned());
    Ok(section)
}
