//! Paging of lists: a page size and an opaque cursor (the last id, or sequence number, of the
//! page before), the same for every door.

use super::{PageOf, ServiceError};
use crate::store::Page;
use uuid::Uuid;

/// Default and largest page size.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// Encodes an id cursor (opaque to clients).
// A cursor is the last item's id (or the access log's sequence number): the list goes on
// after it. Not secret (the ids are in the page), and any well-formed value is a valid start.
pub fn id_cursor(id: Uuid) -> String {
    id.to_string()
}

pub fn seq_cursor(seq: i64) -> String {
    seq.to_string()
}

fn bad_cursor() -> ServiceError {
    ServiceError::bad_request("the cursor is not one this list handed out")
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
        Some(c) => Some(c.parse::<Uuid>().map_err(|_| bad_cursor())?),
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
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|s| *s >= 0)
                .ok_or_else(bad_cursor)?,
        ),
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
