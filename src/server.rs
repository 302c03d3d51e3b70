//! The HTTP/1.1 listener around the router, with the limits a server facing the internet
//! needs: a cap on open connections, a time limit for sending a request's headers (which also
//! ends idle keep-alive connections: the clock runs from when the connection is ready for its
//! next request), an idle timeout for a connection on which nothing moves, and a cap on the
//! size of a request's headers. Each connection shares the one router (no per-connection copy
//! of the route table), so an open connection costs tens of kilobytes, not megabytes.
//!
//! Errors hyper answers itself, before any request reaches the router (a header block that is
//! too large, a bare CR, two Content-Length headers), are rewritten into the same problem+json
//! body every other error has.

use crate::error::ApiError;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Limits of the listener (see `Config`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from when the connection is
    /// ready for a request (so it also closes keep-alive connections that send nothing).
    pub header_read_timeout: Duration,
    /// A connection on which no byte is read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// After the listener closes, how long requests in flight get to finish.
    pub shutdown_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets requests
/// in flight finish and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192) * 2)
        .writev(true)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let serve_one = |stream: TcpStream, peer: SocketAddr, permit| {
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(GuardedIo::new(stream, limits.idle_timeout));
        let service = app
            .clone()
            .map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn =
            builder.serve_connection(io, hyper_util::service::TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    };
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of file descriptors and the like: wait a moment rather than spin
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        serve_one(stream, peer, permit);
    }
    // Connections whose handshake the kernel completed are waiting in the listen backlog;
    // closing the listener would reset them. Take them in and serve them first.
    let mut taken = 0;
    while let Some(Ok((stream, peer))) = futures::FutureExt::now_or_never(listener.accept()) {
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            break;
        };
        serve_one(stream, peer, permit);
        taken += 1;
    }
    drop(listener);
    if taken > 0 {
        tracing::info!(
            connections = taken,
            "served what was waiting in the listen backlog"
        );
    }
    // A connection just accepted may not have sent its request yet: telling it to shut down
    // now would close it unanswered. Give such requests a moment to arrive and start.
    tokio::time::sleep(limits.shutdown_timeout.min(Duration::from_millis(500))).await;
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = limits.shutdown_timeout.as_secs(),
            "requests still in flight at the shutdown timeout were cut off"
        );
    }
    Ok(())
}

/// A connection's socket with an idle timeout, and hyper's own bare error answers rewritten as
/// problem+json.
struct GuardedIo {
    inner: TcpStream,
    idle: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
    /// A rewritten answer still to be written, and how much of it is out.
    pending: Vec<u8>,
    written: usize,
}

impl GuardedIo {
    fn new(inner: TcpStream, idle: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            idle,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            pending: Vec::new(),
            written: 0,
        }
    }

    fn touch(&mut self) {
        self.last_activity = Instant::now();
    }

    /// `Ready(Err)` once nothing has moved for the idle timeout; the timer is re-armed lazily
    /// (activity only moves `last_activity`), so a busy connection costs no timer work.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            let deadline = self.last_activity + self.idle;
            if Instant::now() >= deadline {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Writes out a rewritten answer; `Ready(Ok)` when all of it is out.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    return match self.poll_idle(cx) {
                        Poll::Ready(e) => Poll::Ready(Err(e)),
                        Poll::Pending => Poll::Pending,
                    }
                }
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
            self.touch();
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some(answer) = rewrite_bare_error(buf) {
            this.pending = answer;
            this.written = 0;
            return match this.poll_drain(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                // the original bytes count as written; the rest of the answer drains later
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    /// Vectored writes let hyper queue a response body instead of copying it into a buffer
    /// that stays allocated per connection (a kept-alive connection would otherwise hold the
    /// size of the largest answer it sent).
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty());
        if first.is_some_and(|b| rewrite_bare_error(b).is_some()) || !self.pending.is_empty() {
            return self.poll_write(cx, first.map(|b| &b[..]).unwrap_or(&[]));
        }
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

/// hyper answers a request it cannot parse with a bare head (`HTTP/1.1 431 …`,
/// `content-length: 0`) before the router sees it. The router never answers an error without a
/// body, so such a head is hyper's: it becomes a problem+json answer. `None` for anything else.
fn rewrite_bare_error(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf).ok()?;
    let rest = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    let is_error = (400..500).contains(&code) || code == 505;
    let bare = head.ends_with("\r\n\r\n")
        && head
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 0\r\n");
    if !is_error || !bare {
        return None;
    }
    let status = http::StatusCode::from_u16(code).ok()?;
    let body = ApiError::from_status(status).problem_body(&uuid::Uuid::now_v7().to_string());
    tracing::info!(status = code, "request refused by the HTTP layer");
    Some(
        format!(
            "HTTP/1.1 {code} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            status.canonical_reason().unwrap_or("Error"),
            crate::error::PROBLEM_JSON,
            body.len()
        )
        .into_bytes(),
    )
}

/// The client address of a request, as the listener saw it.
pub fn peer_of(req: &axum::extract::Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_error_heads_are_rewritten() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite_bare_error(bare).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(out.contains("application/problem+json"));
        assert!(out.contains("\"status\":431"));
        let len: usize = out
            .split("content-length: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, out.split("\r\n\r\n").nth(1).unwrap().len());
        assert!(
            rewrite_bare_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_some()
        );
        // answers of the router, and successes, pass untouched
        assert!(
            rewrite_bare_error(b"HTTP/1.1 404 Not Found\r\ncontent-length: 98\r\n\r\n").is_none()
        );
        assert!(rewrite_bare_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite_bare_error(b"HTTP/1.1 204 No Content\r\n\r\n").is_none());
        assert!(rewrite_bare_error(b"{\"json\": true}").is_none());
    }
}
