//! A sheet's upload into a folder of its own (bounded, never over a file), and the downloads of
//! a run's files.

use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::sheets::{self, Sheet};
use super::{refused, Shared};
use crate::ledger::store;

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    name: String,
}

pub(super) async fn upload(
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
        drain(body.into_data_stream()).await;
        return too_big();
    }
    let id = super::random_hex(8);
    let dir = app.work.join("sheets").join(&id);
    let path = dir.join(&name);
    let saved = save(body, &dir, &path, app.max_upload).await;
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
        Ok(Ok((_, _, view)))
            if view
                .fields
                .iter()
                .all(|f| f.column.is_none() && f.proposed.is_none()) =>
        {
            forget(dir).await;
            let mut headers: Vec<&str> = view.headers.iter().take(5).map(String::as_str).collect();
            if view.headers.len() > 5 {
                headers.push("…");
            }
            refused(
                StatusCode::BAD_REQUEST,
                format!(
                    "{name} does not look like a sheet of broadcasts: no column of it ({}) holds a field a broadcast has. Is it the right file? The first row must be the header (name, description, phone_number_list, …)",
                    headers.join(", ")
                ),
            )
        }
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

/// Read past what is left of a refused upload, up to [`DRAIN`] bytes, so that the client is
/// still reading when the refusal comes (a server that stops reading closes the connection,
/// and the client may see that instead of the reason).
async fn drain(mut stream: axum::body::BodyDataStream) {
    let mut read = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len() as u64;
        if read > DRAIN {
            break;
        }
    }
}

/// The most of a refused upload read past.
const DRAIN: u64 = 16 << 20;

/// Keep `body` at `path` (a new file in the new folder `dir`): its size, or `None` once it
/// is past `max` bytes.
async fn save(body: Body, dir: &FsPath, path: &FsPath, max: u64) -> std::io::Result<Option<u64>> {
    tokio::fs::create_dir_all(dir).await?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await?;
    let (mut stream, mut size) = (body.into_data_stream(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        size += chunk.len() as u64;
        if size > max {
            drain(stream).await;
            return Ok(None);
        }
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok(Some(size))
}

/// The file at `path` as a download under its own name.
pub(super) async fn download(path: &FsPath) -> Response {
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
