//! The page's addresses. Each answers JSON (`{"error": "…"}` with a 4xx when refused), except
//! the page's own files, the downloads, and the stream of a run's progress.

use std::convert::Infallible;
use std::path::Path as FsPath;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::runs::{self, Plan, SendTo};
use super::sheets::{self, Sheet};
use super::{access, follow, history, page, refused, upload, App, Shared};
use crate::input::Field;
use crate::ledger::store;
use upload::download;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| page::serve("index.html")))
        .route("/app.js", get(|| page::serve("app.js")))
        .route("/app.css", get(|| page::serve("app.css")))
        .route("/api/setup", get(setup))
        .route(
            "/api/sheets",
            post(upload::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/sheets/{id}", get(sheet_view))
        .route("/api/sheets/{id}/sheet", post(choose_sheet))
        .route("/api/sheets/{id}/columns", post(map_column))
        .route("/api/sheets/{id}/cells", post(fix_cell))
        .route("/api/runs", post(start_run))
        .route("/api/runs/{id}", get(run_now))
        .route("/api/runs/{id}/events", get(run_events))
        .route("/api/runs/{id}/stop", post(stop_run))
        .route("/api/runs/{id}/results", get(run_results))
        .route("/api/runs/{id}/failed", get(run_failed))
        .route("/api/history", get(earlier))
        .route("/api/history/{id}/continue", post(continue_run))
        .route("/api/history/{id}/results", get(earlier_results))
        .route("/api/rehearsal", get(rehearsal))
        .fallback(|| async { refused(StatusCode::NOT_FOUND, "no such page") })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            access::guard,
        ))
        .with_state(app)
}

fn bad(e: anyhow::Error) -> Response {
    refused(StatusCode::BAD_REQUEST, format!("{e:#}"))
}

async fn setup(State(app): Shared) -> Response {
    let runs: Vec<_> = app
        .runs
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|r| json!({ "id": r.id, "title": r.title, "ended": r.snapshot.borrow().ended }))
        .collect();
    Json(json!({
        "profiles": crate::profile::names(app.config.as_deref()),
        "rehearsal_rate": super::REHEARSAL_RATE,
        "base_url": crate::cli::DEFAULT_BASE_URL,
        "max_upload_mb": app.max_upload >> 20,
        "runs": runs,
        "ledger": app.state_dir.join(store::FILE).display().to_string(),
    }))
    .into_response()
}

/// Change the sheet `id` with `change`, then check it again; the new view.
async fn changed(
    app: &App,
    id: String,
    change: impl FnOnce(&mut Sheet) -> anyhow::Result<()> + Send + 'static,
) -> Response {
    let Some(sheet) = app.sheet(&id) else {
        return refused(StatusCode::NOT_FOUND, "no such sheet: upload it again");
    };
    let done = tokio::task::spawn_blocking(move || {
        // A change that cannot be read leaves the sheet as it was.
        let mut s = sheet.lock().expect("not poisoned");
        let mut next = s.clone();
        change(&mut next)?;
        let view = sheets::view(&id, &next)?;
        *s = next;
        Ok(view)
    })
    .await;
    match done {
        Ok(Ok(view)) => Json(view).into_response(),
        Ok(Err(e)) => bad(e),
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn sheet_view(State(app): Shared, Path(id): Path<String>) -> Response {
    changed(&app, id, |_| Ok(())).await
}

#[derive(Deserialize)]
struct ChooseSheet {
    sheet: String,
}

async fn choose_sheet(
    State(app): Shared,
    Path(id): Path<String>,
    Json(c): Json<ChooseSheet>,
) -> Response {
    changed(&app, id, move |s| {
        if s.fixes > 0 {
            anyhow::bail!("cells of this sheet were fixed: upload the workbook again to read another of its sheets");
        }
        s.sheet = Some(c.sheet);
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
struct MapColumn {
    field: String,
    column: Option<String>,
}

async fn map_column(
    State(app): Shared,
    Path(id): Path<String>,
    Json(m): Json<MapColumn>,
) -> Response {
    let Some(field) = Field::from_header(&m.field) else {
        return refused(
            StatusCode::BAD_REQUEST,
            format!("{:?} is not a field", m.field),
        );
    };
    let column = m.column.filter(|c| !c.is_empty());
    if let Some(c) = &column {
        if let Err(e) =
            store::remember_column(&app.state_dir, &crate::input::squash(c), field.api_name())
        {
            tracing::warn!("cannot remember the column {c:?} for {field}: {e:#}");
        }
    }
    changed(&app, id, move |s| sheets::map_column(s, field, column)).await
}

#[derive(Deserialize)]
struct FixCell {
    line: u64,
    column: usize,
    value: String,
}

async fn fix_cell(State(app): Shared, Path(id): Path<String>, Json(f): Json<FixCell>) -> Response {
    changed(&app, id, move |s| {
        sheets::fix_cell(s, f.line, f.column, &f.value)
    })
    .await
}

#[derive(Deserialize)]
struct StartRun {
    sheet: String,
    #[serde(flatten)]
    to: SendTo,
}

async fn start_run(State(app): Shared, Json(r): Json<StartRun>) -> Response {
    let Some(sheet) = app.sheet(&r.sheet) else {
        return refused(StatusCode::NOT_FOUND, "no such sheet: upload it again");
    };
    let plan = {
        let s = sheet.lock().expect("not poisoned");
        let workbook = sheets::is_workbook_file(&s.current);
        match runs::new_files(&app, &s.file, r.to.target == "rehearsal", workbook) {
            Ok((results, failed)) => Plan {
                title: s.file.clone(),
                input: s.current.clone(),
                sheet_flags: s.flags(),
                results,
                failed,
                resume: false,
            },
            Err(e) => return bad(e),
        }
    };
    match runs::start(&app, plan, &r.to).await {
        Ok(id) => Json(json!({ "run": id })).into_response(),
        Err(e) => bad(e),
    }
}

async fn run_now(State(app): Shared, Path(id): Path<String>) -> Response {
    match app.run(&id) {
        Some(run) => Json(json!({
            "id": run.id,
            "title": run.title,
            "rehearsal": run.rehearsal,
            "now": *run.snapshot.borrow(),
        }))
        .into_response(),
        None => refused(StatusCode::NOT_FOUND, "no such run"),
    }
}

async fn run_events(State(app): Shared, Path(id): Path<String>) -> Response {
    let Some(run) = app.run(&id) else {
        return refused(StatusCode::NOT_FOUND, "no such run");
    };
    let rx = run.snapshot.clone();
    let stream =
        futures_util::stream::unfold((rx, false, true), |(mut rx, done, first)| async move {
            if done {
                return None;
            }
            let mut gone = false;
            if !first {
                gone = rx.changed().await.is_err();
                if !gone {
                    tokio::time::sleep(follow::EVERY).await;
                }
            }
            let now = rx.borrow_and_update().clone();
            let end = now.ended || gone;
            let event = SseEvent::default().json_data(&now).ok()?;
            Some((Ok::<_, Infallible>(event), (rx, end, false)))
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn stop_run(State(app): Shared, Path(id): Path<String>) -> Response {
    match app.run(&id) {
        Some(run) => {
            run.stop("stopped from the page");
            Json(json!({ "stopping": true })).into_response()
        }
        None => refused(StatusCode::NOT_FOUND, "no such run"),
    }
}

async fn run_results(State(app): Shared, Path(id): Path<String>) -> Response {
    match app.run(&id) {
        Some(run) if run.snapshot.borrow().ended => download(&run.results).await,
        Some(_) => refused(
            StatusCode::CONFLICT,
            "the run is still going: its results are complete when it ends",
        ),
        None => refused(StatusCode::NOT_FOUND, "no such run"),
    }
}

async fn run_failed(State(app): Shared, Path(id): Path<String>) -> Response {
    match app.run(&id) {
        Some(run) if run.snapshot.borrow().ended => download(&run.failed).await,
        Some(_) => refused(StatusCode::CONFLICT, "the run is still going"),
        None => refused(StatusCode::NOT_FOUND, "no such run"),
    }
}

async fn earlier(State(app): Shared) -> Response {
    let app2 = app.clone();
    match tokio::task::spawn_blocking(move || history::list(&app2)).await {
        Ok(Ok(list)) => Json(list).into_response(),
        Ok(Err(e)) => bad(e),
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn continue_run(State(app): Shared, Path(id): Path<i64>, Json(to): Json<SendTo>) -> Response {
    match history::continue_run(&app, id, &to).await {
        Ok(run) => Json(json!({ "run": run })).into_response(),
        Err(e) => bad(e),
    }
}

async fn earlier_results(State(app): Shared, Path(id): Path<i64>) -> Response {
    match history::find(&app, id) {
        Ok(r) if r.live => refused(StatusCode::CONFLICT, "the run is still going"),
        Ok(r) => download(FsPath::new(&r.results)).await,
        Err(e) => refused(StatusCode::NOT_FOUND, format!("{e:#}")),
    }
}

/// What the rehearsal's simulated account holds.
async fn rehearsal(State(app): Shared) -> Response {
    let held: Vec<_> = app
        .rehearsal
        .get()
        .map(|m| m.broadcasts())
        .unwrap_or_default()
        .into_iter()
        .map(|b| json!({ "id": b.id, "name": b.name }))
        .collect();
    Json(json!({ "broadcasts": held })).into_response()
}
