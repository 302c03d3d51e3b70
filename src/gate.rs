//! What every request passes before it reaches a door: the client's address (believed from
//! `X-Forwarded-For` / `Forwarded` only when the peer is a trusted proxy), the cap on requests
//! in flight (a fast 503 rather than a growing queue), the brake on failed authentication
//! (429 per client address), the limit on writes per token or page session (429), whether
//! the replica is shutting down (`/readyz` 503), and the request metrics by matched route.
//! Nothing here decides what a caller may see.

use crate::error::ApiError;
use crate::ratelimit::{CredentialKey, RateLimiter};
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// An IP network: an address and how many leading bits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.addr), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:10.0.0.1`) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client a request came from, as far as the gateway can tell.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The client's address: the peer, or — when the peer is a trusted proxy — the nearest
/// address in `X-Forwarded-For` (else `Forwarded: for=`) that is not itself a trusted proxy.
/// A forwarded value that is not an address is ignored (the peer stands).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return canonical(peer);
    }
    // X-Forwarded-For first: proxies append to it (nginx, HAProxy, cloud balancers), so the
    // hops nearest to us are theirs, whatever the client put in front. `Forwarded` only when
    // there is none: a proxy that does not append to it would pass a client's claim through.
    // each hop as written; one that is not an address (`unknown`, `_hidden`) stays in the
    // list, so the walk stops there instead of believing what lies beyond it
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            return canonical(peer);
        };
        hops.extend(v.split(',').map(|h| forwarded_addr(h.trim())));
    }
    if hops.is_empty() {
        for v in headers.get_all(header::FORWARDED) {
            let Ok(v) = v.to_str() else {
                return canonical(peer);
            };
            for element in v.split(',') {
                let hop = element.split(';').find_map(|pair| {
                    let (k, val) = pair.trim().split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| forwarded_addr(val.trim().trim_matches('"')))
                });
                if let Some(hop) = hop {
                    hops.push(hop);
                }
            }
        }
    }
    // from the nearest hop outward: the first one not ours is the client; a hop that is not
    // an address ends the walk (we cannot tell who is behind it), and the peer stands
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => continue,
            Some(ip) => return canonical(ip),
            None => break,
        }
    }
    canonical(peer)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn forwarded_addr(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// The client's address for the doors: the gate's judgement, or the peer when the router
/// runs without the gate (absent when it runs without a listener).
pub fn client_addr(extensions: &axum::http::Extensions) -> crate::service::parent::ClientAddr {
    crate::service::parent::ClientAddr(extensions.get::<ClientIp>().map(|c| c.0).or_else(|| {
        extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| canonical(c.0.ip()))
    }))
}

/// The per-replica state of the gate.
pub struct Gate {
    in_flight: Arc<Semaphore>,
    trusted: Vec<IpNet>,
    pub auth_failures: RateLimiter,
    /// Writes (POST, PUT, PATCH, DELETE) one bearer token or page session may make a minute.
    writes: RateLimiter<CredentialKey>,
    draining: AtomicBool,
}

impl Gate {
    pub fn new(config: &crate::Config) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight_requests.max(1))),
            trusted: config
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            auth_failures: RateLimiter::new("auth_failures", config.auth_failures_per_minute),
            writes: RateLimiter::new("writes", config.writes_per_minute_per_token),
            draining: AtomicBool::new(false),
        }
    }

    /// From now on `/readyz` answers 503: the load balancer should send no new requests.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// The door a path belongs to, for the shape of the gate's own refusals.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Door {
    Fhir,
    OAuth,
    /// A web page: refusals as a Dutch page.
    Page,
    Other,
}

fn door(path: &str) -> Door {
    if path.starts_with("/oauth2/") {
        Door::OAuth
    } else if path.starts_with("/fhir/") && !path.starts_with("/fhir/r4/.well-known/") {
        Door::Fhir
    } else if path.starts_with("/api/")
        || path.starts_with("/fhir/")
        || path.starts_with("/.well-known/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
    {
        Door::Other
    } else {
        Door::Page
    }
}

fn refusal(door: Door, status: StatusCode, detail: &str, retry_after: u64) -> Response {
    let mut res = match door {
        Door::Fhir => crate::fhir::outcome(ApiError::new(status, "unavailable", "Refused", detail)),
        Door::OAuth => (
            status,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            axum::Json(
                serde_json::json!({"error": "invalid_request", "error_description": detail}),
            ),
        )
            .into_response(),
        Door::Page => {
            if status == StatusCode::TOO_MANY_REQUESTS {
                crate::web::WebError::Slow.into_response()
            } else {
                crate::web::WebError::Busy.into_response()
            }
        }
        Door::Other => ApiError::new(
            status,
            if status == StatusCode::TOO_MANY_REQUESTS {
                "too-many-requests"
            } else {
                "unavailable"
            },
            if status == StatusCode::TOO_MANY_REQUESTS {
                "Too many requests"
            } else {
                "Service unavailable"
            },
            detail,
        )
        .with("retry_after_seconds", retry_after)
        .into_response(),
    };
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    res
}

/// Does this request try to authenticate (a bearer token, or a SMART client at the token
/// endpoint)?
fn authenticates(req: &Request) -> bool {
    req.headers().contains_key(header::AUTHORIZATION) || req.uri().path() == "/oauth2/token"
}

/// The credential a write is made with, for the per-token write limit: the bearer token, or on
/// a page the session cookie. `None` for reads, for the token endpoint (a client assertion,
/// braked as a failed authentication) and for requests without either.
fn write_credential(req: &Request) -> Option<CredentialKey> {
    use axum::http::Method;
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) || req.uri().path() == "/oauth2/token"
    {
        return None;
    }
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        return Some(CredentialKey::of(auth.as_bytes()));
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(crate::web::SESSION_COOKIE)?
                .strip_prefix('=')
        })
        .map(|session| CredentialKey::of(session.as_bytes()))
}

/// The gate itself; see the module's description.
pub async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().clone();
    let path_door = door(req.uri().path());
    let gate = &state.gate;
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = peer.map(|p| client_ip(p, req.headers(), &gate.trusted));
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let tries_auth = authenticates(&req);
    let writes_with = write_credential(&req);
    // IPv6 clients are braked per /64: one host usually holds a whole /64
    let brake_key = client.map(|ip| match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    });
    let response = 'answer: {
        // probes and metrics are never refused: an operator must see a saturated replica
        let exempt = matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics");
        let _permit = if exempt {
            None
        } else {
            match gate.in_flight.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    metrics::counter!("kindbrug_refused_total", "reason" => "in_flight")
                        .increment(1);
                    break 'answer refusal(
                        path_door,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the gateway is busy; try again in a moment",
                        1,
                    );
                }
            }
        };
        // a token (or page session) over its write limit changes nothing more this minute
        if let Some(key) = writes_with {
            if let Err(wait) = gate.writes.check(key) {
                break 'answer refusal(
                    path_door,
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many changes with this token; wait and try again",
                    wait.0.as_secs(),
                );
            }
        }
        let res = next.run(req).await;
        // counted once the credential proved good: unknown tokens fill no bucket (they are
        // braked as failed authentications); and a change the gateway could not serve (5xx:
        // the database away, saturated) uses none of the budget a client retries with
        if let Some(key) = writes_with {
            if res.status() != StatusCode::UNAUTHORIZED && !res.status().is_server_error() {
                gate.writes.charge(key);
            }
        }
        // A failed authentication (401: a bad, expired or unknown token; `invalid_client` at
        // the token endpoint) is counted against the address; once it is over its limit, a
        // failure there is answered 429 with the wait. A caller that authenticates is never
        // refused: a colleague behind the same address is not locked out by a guesser.
        if let (true, Some(key)) = (tries_auth, brake_key) {
            if res.status() == StatusCode::UNAUTHORIZED {
                let over = gate.auth_failures.check(key);
                gate.auth_failures.charge(key);
                if let Err(wait) = over {
                    break 'answer refusal(
                        path_door,
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many failed authentications from this address; wait and try again",
                        wait.0.as_secs(),
                    );
                }
            }
        }
        res
    };
    let mut response = response;
    if gate.draining() {
        // shutting down: no connection is kept for a next request that would find it closed
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let status = response.status().as_u16().to_string();
    // a fixed set of methods: a client's own extension method does not make a new series
    let method = match method.as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    };
    let labels = [
        ("route", route),
        ("method", method.to_string()),
        ("status", status),
    ];
    metrics::counter!("kindbrug_http_requests_total", &labels).increment(1);
    metrics::histogram!("kindbrug_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn networks_contain_what_they_should() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let one: IpNet = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "198.51.100.4".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.5")]);
        // from the proxy: the nearest hop that is not a proxy of ours
        assert_eq!(
            client_ip(proxy, &xff, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // from anyone else the header is a claim, not a fact
        assert_eq!(client_ip(stranger, &xff, &trusted), stranger);
        assert_eq!(client_ip(proxy, &xff, &[]), proxy);
        // a spoofed first hop does not win: the client's own proxy appends the real one
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(
            client_ip(proxy, &spoofed, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let fwd = headers(&[(
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.3",
        )]);
        assert_eq!(
            client_ip(proxy, &fwd, &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        // both: X-Forwarded-For, which the proxy appended to, wins over a passed-through claim
        let both = headers(&[
            ("forwarded", "for=192.0.2.99"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_ip(proxy, &both, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let junk = headers(&[("x-forwarded-for", "unknown, _hidden")]);
        assert_eq!(client_ip(proxy, &junk, &trusted), proxy);
        // a hop we cannot read: what lies beyond it is not believed
        let hidden = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.5")]);
        assert_eq!(client_ip(proxy, &hidden, &trusted), proxy);
        let fwd_hidden = headers(&[("forwarded", "for=203.0.113.9, for=_hidden")]);
        assert_eq!(client_ip(proxy, &fwd_hidden, &trusted), proxy);
    }
}
