//! The page's addresses. Each answers JSON (`{"error": "…"}` with a 4xx when refused), except
//! the page's own files, the downloads, and the stream of a run's progress.

use std::convert::Infallible;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::runs::{self, Plan, SendTo};
use super::sheets::{self, Sheet};
use super::{access, follow, history, page, App};
use crate::input::Field;
use crate::ledger::store;

type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| page::serve("index.html")))
        .route("/app.js", get(|| page::serve("app.js")))
        .route("/app.css", get(|| page::serve("app.css")))
        .route("/api/setup", get(setup))
        .route(
            "/api/sheets",
            post(upload).layer(DefaultBodyLimit::disable()),
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

fn refused(status: StatusCode, why: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": why.to_string() }))).into_response()
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

#[derive(Deserialize)]
struct UploadQuery {
    name: String,
}

async fn upload(
    State(app): Shared,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let name = sheets::safe_name(&q.name);
    let too_big = || {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{name} is larger than the {} MB the page accepts: split it, or start the page with a larger --max-upload",
                app.max_upload >> 20
            ),
        )
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|l| l > app.max_upload) {
        return too_big();
    }
    let id = super::random_hex(8);
    let dir = app.work.join("sheets").join(&id);
    let path = dir.join(&name);
    let saved = async {
        tokio::fs::create_dir_all(&dir).await?;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        let (mut stream, mut size) = (body.into_data_stream(), 0u64);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            size += chunk.len() as u64;
            if size > app.max_upload {
                return Ok(None);
            }
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        Ok::<_, std::io::Error>(Some(size))
    }
    .await;
    let forget = |dir: PathBuf| async move {
        let _ = tokio::fs::remove_dir_all(dir).await;
    };
    match saved {
        Ok(Some(0)) => {
            forget(dir).await;
            return refused(StatusCode::BAD_REQUEST, format!("{name} is empty"));
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            forget(dir).await;
            return too_big();
        }
        Err(e) => {
            forget(dir).await;
            return refused(StatusCode::BAD_REQUEST, format!("cannot keep {name}: {e}"));
        }
    }
    let mut sheet = Sheet {
        dir: dir.clone(),
        file: name.clone(),
        current: path,
        fixes: 0,
        sheet: None,
        map: Vec::new(),
    };
    let remembered = store::remembered_columns(&app.state_dir);
    let checked = tokio::task::spawn_blocking(move || {
        sheets::remembered(&mut sheet, &remembered)?;
        let view = sheets::view(&id, &sheet)?;
        Ok::<_, anyhow::Error>((id, sheet, view))
    })
    .await;
    match checked {
        Ok(Ok((id, sheet, view))) => {
            let mut all = app.sheets.lock().expect("not poisoned");
            all.insert(id, Arc::new(Mutex::new(sheet)));
            Json(view).into_response()
        }
        Ok(Err(e)) => {
            forget(dir).await;
            refused(
                StatusCode::BAD_REQUEST,
                format!("{name} cannot be read as a spreadsheet: {e:#}"),
            )
        }
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
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
        let mut s = sheet.lock().expect("not poisoned");
        change(&mut s)?;
        sheets::view(&id, &s)
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

/// The file at `path` as a download under its own name.
async fn download(path: &FsPath) -> Response {
    let Ok(file) = tokio::fs::File::open(path).await else {
        return refused(
            StatusCode::NOT_FOUND,
            "that file was not written (or is gone)",
        );
    };
    let name = path
        .file_name()
        .map_or("results.csv".into(), |n| n.to_string_lossy().into_owned());
    let kind = if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    };
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._()-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    (
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        body,
    )
        .into_response()
}
