//! Retry policy: exponential backoff with full jitter, honouring the server's retry hint (as
//! `engram/client/retry.py`), and the random numbers the client needs.

use std::time::Duration;

/// How often and how long a call is retried.
///
/// Retried: `overloaded` (429) and `not_ready`/`shutting_down` (503) answers, which the server
/// gives before doing any work; `storage_unavailable` answers and lost connections when the call
/// is safe to resend (reads, and writes that carry an idempotency key); and connections that
/// never opened (the server did not see the request). Never retried: anything else, and an
/// ambiguous failure of a call that is not safe to resend (`create_space`, `consolidate`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The backoff before the second try is drawn from `[0, base]`, then doubles per try.
    pub base: Duration,
    /// The most the backoff grows to (a server's retry hint is honoured up to 4 times this).
    pub max: Duration,
    /// No retry starts after this long since the first try.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(50),
            max: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before try `attempt + 1` (`attempt` counts from 0): uniform in
    /// `[0, min(max, base * 2^attempt)]`, and at least the server's hint (capped at `4 * max`).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.base.saturating_mul(1u32 << attempt.min(20)).min(self.max);
        let mut d = cap.mul_f64(unit());
        if let Some(hint) = retry_after {
            d = d.max(hint.min(self.max.saturating_mul(4)));
        }
        d
    }
}

/// A uniform random number in `[0, 1)`.
pub(crate) fn unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        // no OS randomness (never seen on a supported platform): the clock's low bits
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        t.as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15
    })
}

/// A random (version 4) UUID in hex without dashes, like Python's `uuid.uuid4().hex`: the
/// default idempotency key of a write and the id of a stream.
pub fn random_key() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        b[..8].copy_from_slice(&random_u64().to_le_bytes());
        b[8..].copy_from_slice(&random_u64().rotate_left(17).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_their_caps_and_honour_hints() {
        let p = RetryPolicy::default();
        for attempt in 0..10 {
            for _ in 0..50 {
                let d = p.delay(attempt, None);
                let cap = (p.base * 2u32.pow(attempt)).min(p.max);
                assert!(d <= cap, "{d:?} > {cap:?} at attempt {attempt}");
            }
        }
        let d = p.delay(0, Some(Duration::from_millis(700)));
        assert!(d >= Duration::from_millis(700));
        let d = p.delay(0, Some(Duration::from_secs(3600)));
        assert_eq!(d, p.max * 4, "a hint is capped at four times max");
    }

    #[test]
    fn keys_are_uuid4_hex_and_differ() {
        let a = random_key();
        let b = random_key();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(&a[12..13], "4");
        assert_ne!(a, b);
        let u = unit();
        assert!((0.0..1.0).contains(&u));
    }
}
