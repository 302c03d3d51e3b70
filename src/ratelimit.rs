//! Rate limits: a token bucket for each client address (or each token), kept in memory per
//! replica (a limit is a brake, not an account: with N replicas behind a balancer a client gets
//! at most N times the rate). Buckets idle for long are dropped, so memory stays bounded by the
//! clients of the last few minutes.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A keyed token bucket: `burst` tokens, refilled at `per_minute` a minute. Keyed by client
/// address unless said otherwise.
pub struct RateLimiter<K = IpAddr> {
    name: &'static str,
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
    /// When the buckets were last swept for clients whose buckets are full again.
    swept: Mutex<Option<Instant>>,
}

/// Buckets kept at most (a few MB): the clients of the last minutes, not of all time.
const MAX_BUCKETS: usize = 100_000;

/// A bearer token or a page session as a limiter's key: a digest, so the limiter holds no
/// credential, and its log line names a short prefix of the digest only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialKey([u8; 16]);

impl CredentialKey {
    pub fn of(credential: &[u8]) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(credential);
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Self(key)
    }
}

impl Display for CredentialKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "credential {}", hex::encode(&self.0[..4]))
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Refusals since the last log line about this client.
    refused: u64,
    logged_at: Option<Instant>,
}

/// How long to wait before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl<K: Hash + Eq + Copy + Display> RateLimiter<K> {
    pub fn new(name: &'static str, per_minute: u32) -> Self {
        Self {
            name,
            burst: f64::from(per_minute.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
            swept: Mutex::new(None),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.at = now;
    }

    fn wait(&self, b: &Bucket) -> RetryAfter {
        let missing = (1.0 - b.tokens).max(0.0);
        RetryAfter(Duration::from_secs_f64(missing / self.per_second).max(Duration::from_secs(1)))
    }

    /// Is `client` within its limit? Does not take a token.
    pub fn check(&self, client: K) -> Result<(), RetryAfter> {
        self.check_at(client, Instant::now())
    }

    /// Takes one token for `client` (a failed attempt, or a write).
    pub fn charge(&self, client: K) {
        self.charge_at(client, Instant::now())
    }

    fn check_at(&self, client: K, now: Instant) -> Result<(), RetryAfter> {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let Some(b) = buckets.get_mut(&client) else {
            return Ok(());
        };
        self.refill(b, now);
        if b.tokens >= 1.0 {
            return Ok(());
        }
        b.refused += 1;
        metrics::counter!("kindbrug_refused_total", "reason" => self.name).increment(1);
        // one log line per client per minute, with how many attempts were refused
        if b.logged_at
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(60))
        {
            tracing::warn!(
                limit = self.name,
                client = %client,
                refused = b.refused,
                per_minute = self.burst,
                "rate limit reached: attempts refused with 429"
            );
            b.refused = 0;
            b.logged_at = Some(now);
        }
        Err(self.wait(b))
    }

    fn charge_at(&self, client: K, now: Instant) {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&client) {
            // forget clients whose buckets are full again, at most once a second: under a
            // flood of new keys (forged session cookies) a sweep per request would be the
            // attack. A new client that finds no room is not tracked until there is.
            let mut swept = self.swept.lock().expect("rate limiter lock");
            if swept.is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1)) {
                let full = Duration::from_secs_f64(self.burst / self.per_second);
                buckets.retain(|_, b| now.saturating_duration_since(b.at) < full);
                *swept = Some(now);
            }
            if buckets.len() >= MAX_BUCKETS {
                return;
            }
        }
        let b = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            refused: 0,
            logged_at: None,
        });
        self.refill(b, now);
        b.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let l = RateLimiter::new("test", 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.check_at(ip, t0).is_ok());
            l.charge_at(ip, t0);
        }
        let wait = l.check_at(ip, t0).unwrap_err();
        assert!(
            wait.0 >= Duration::from_secs(5) && wait.0 <= Duration::from_secs(7),
            "{wait:?}"
        );
        assert!(
            l.check_at(other, t0).is_ok(),
            "another client is not limited"
        );
        // one failure's worth of tokens comes back in six seconds
        assert!(l.check_at(ip, t0 + Duration::from_secs(6)).is_ok());
    }

    #[test]
    fn a_flood_of_new_keys_stays_bounded_and_known_clients_stay_limited() {
        let l = RateLimiter::<u64>::new("test", 2);
        let t0 = Instant::now();
        l.charge_at(u64::MAX, t0);
        l.charge_at(u64::MAX, t0);
        for k in 0..(MAX_BUCKETS as u64 + 5_000) {
            l.charge_at(k, t0);
        }
        assert!(l.buckets.lock().unwrap().len() <= MAX_BUCKETS);
        assert!(
            l.check_at(u64::MAX, t0).is_err(),
            "a known client is still limited"
        );
        // once their buckets are full again, the sweep makes room
        let later = t0 + Duration::from_secs(120);
        l.charge_at(u64::MAX - 1, later);
        assert!(l.buckets.lock().unwrap().len() <= 2);
    }
}
