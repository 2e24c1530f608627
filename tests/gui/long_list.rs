//! A long list: only the rows in view are in the DOM, yet the count, scrolling to the last
//! todo and adding one work as with a short list.

use anyhow::{Result, ensure};
use tidemark_todos::TodoList;

use crate::harness::{Bench, skipped};

/// As many todos as the benchmark shows (`scripts/bench-app`): seeding them is one transaction.
const TODOS: usize = 10_000;

/// True when the list item showing `text` is in the DOM and inside the scroller's view.
const ROW_IN_VIEW: &str = "const li = [...document.querySelectorAll('#todos li')] \
    .find(li => li.querySelector('.text')?.textContent === arguments[0]); \
    if (!li) return false; \
    const r = li.getBoundingClientRect(), v = document.getElementById('scroller').getBoundingClientRect(); \
    return r.top >= v.top && r.bottom <= v.bottom";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_scrolls_to_its_last_todo_and_takes_a_new_one() -> Result<()> {
    if skipped("a_long_list_scrolls_to_its_last_todo_and_takes_a_new_one") {
        return Ok(());
    }
    let bench = Bench::start(None).await?;
    let list = TodoList::open(&bench.data_dir(), None, None).await?;
    list.add_many((1..=TODOS).map(|i| format!("Todo number {i}")))
        .await?;
    list.close().await;

    let app = bench.launch().await?;
    app.wait_js(
        "the count of 10 000",
        "return document.getElementById('count').textContent === '10000 to do'",
    )
    .await?;
    let rows = app.rows().await?;
    ensure!(
        rows.first().map(|r| r.text.as_str()) == Some("Todo number 1"),
        "first rows: {:?}",
        rows.iter().take(3).collect::<Vec<_>>()
    );
    // Windowed: a screenful plus a margin, each row saying where it stands in the whole list.
    ensure!(
        rows.len() < 100,
        "{} rows in the DOM for {TODOS} todos",
        rows.len()
    );
    let size = app
        .js("return document.querySelector('#todos li').getAttribute('aria-setsize')")
        .await?;
    ensure!(size == "10000", "aria-setsize {size}");

    // Scrolling to the end brings the last todo into view.
    app.js(
        "const s = document.getElementById('scroller'); s.scrollTop = s.scrollHeight; return null",
    )
    .await?;
    app.s
        .wait_for(
            "the last todo in view",
            crate::harness::UI_TIMEOUT,
            || async {
                let v = app
                    .s
                    .script(ROW_IN_VIEW, vec!["Todo number 10000".into()])
                    .await?;
                Ok(v.as_bool().unwrap_or(false).then_some(()))
            },
        )
        .await?;
    let rows = app.rows().await?;
    ensure!(
        rows.last().map(|r| r.text.as_str()) == Some("Todo number 10000"),
        "last rows: {:?}",
        &rows[rows.len().saturating_sub(3)..]
    );

    // Back at the top, a new todo added with Enter goes last and is scrolled into view, with
    // the add field still at hand.
    app.js("document.getElementById('scroller').scrollTop = 0; return null")
        .await?;
    app.add_with_enter("One more thing").await?;
    app.s
        .wait_for(
            "the new todo in view",
            crate::harness::UI_TIMEOUT,
            || async {
                let v = app
                    .s
                    .script(ROW_IN_VIEW, vec!["One more thing".into()])
                    .await?;
                Ok(v.as_bool().unwrap_or(false).then_some(()))
            },
        )
        .await?;
    app.wait_js(
        "the count of 10 001",
        "return document.getElementById('count').textContent === '10001 to do'",
    )
    .await?;
    let focused = app.js("return document.activeElement.id").await?;
    ensure!(focused == "new-text", "focus went to {focused}");
    // Seeded offline, every todo is still queued: the badge counts them all.
    app.wait_badge(TODOS as u64 + 1).await?;
    app.screenshot("ten-thousand.png").await?;

    // It can be ticked like any other.
    app.click_in_row("One more thing", "input.complete").await?;
    app.wait_js(
        "the count back to 10 000",
        "return document.getElementById('count').textContent === '10000 to do'",
    )
    .await?;
    app.quit().await?;

    let list = TodoList::open(&bench.data_dir(), None, None).await?;
    let all = list.list(true).await?;
    list.close().await;
    ensure!(all.len() == TODOS + 1, "{} todos in the store", all.len());
    ensure!(
        all.last()
            .is_some_and(|t| t.text == "One more thing" && t.complete),
        "last: {:?}",
        all.last()
    );
    Ok(())
}
