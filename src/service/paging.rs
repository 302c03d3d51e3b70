//! Paging of lists: a page size and an opaque cursor (the last id, or sequence number, of the
//! page before), the same for every door.

use super::{PageOf, ServiceError};
use crate::store::Page;
use base64::Engine;
use uuid::Uuid;

/// Default and largest page size.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// Encodes an id cursor (opaque to clients).
pub fn id_cursor(id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("i:{id}"))
}

pub fn seq_cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("s:{seq}"))
}

fn decode_cursor(cursor: &str, prefix: &str) -> Result<String, ServiceError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(prefix).map(String::from))
        .ok_or_else(|| ServiceError::bad_request("the cursor is not one this list handed out"))
}

fn checked_limit(limit: Option<u32>) -> Result<i64, ServiceError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        l @ 1..=MAX_LIMIT => Ok(i64::from(l)),
        _ => Err(ServiceError::bad_request(format!(
            "limit must be 1 to {MAX_LIMIT}"
        ))),
    }
}

/// A store page from the `limit` and `cursor` query parameters of an id-ordered list.
pub fn page(limit: Option<u32>, cursor: Option<&str>) -> Result<Page, ServiceError> {
    let after = match cursor {
        Some(c) => Some(decode_cursor(c, "i:")?.parse::<Uuid>().map_err(|_| {
            ServiceError::bad_request("the cursor is not one this list handed out")
        })?),
        None => None,
    };
    Ok(Page {
        after,
        limit: checked_limit(limit)?,
    })
}

/// The `(after_seq, limit)` of a sequence-ordered list.
pub fn seq_page(
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<(Option<i64>, i64), ServiceError> {
    let after = match cursor {
        Some(c) => Some(decode_cursor(c, "s:")?.parse::<i64>().map_err(|_| {
            ServiceError::bad_request("the cursor is not one this list handed out")
        })?),
        None => None,
    };
    Ok((after, checked_limit(limit)?))
}

/// The cursor after rows fetched with `limit`: only a full page has a next one.
pub fn next_cursor<R>(rows: &[R], limit: i64, id: impl Fn(&R) -> Uuid) -> Option<String> {
    if rows.len() as i64 == limit {
        rows.last().map(|r| id_cursor(id(r)))
    } else {
        None
    }
}

/// Builds a page from rows fetched with `limit`.
pub fn page_of<R, T>(
    rows: Vec<R>,
    limit: i64,
    id: impl Fn(&R) -> Uuid,
    view: impl Fn(R) -> T,
) -> PageOf<T> {
    let next_cursor = next_cursor(&rows, limit, id);
    PageOf {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}
