//! The engine's clock arithmetic: when a granted lease is renewed, and the back-off after
//! failures. Time is always given, never read.

use std::time::Duration;

use super::state::Holding;

use crate::limits::{PERMANENT_CHECK_INTERVAL, RECOVER_BACKOFF_FIRST, RECOVER_BACKOFF_MAX, RENEW_FRACTION, RENEW_MIN_INTERVAL};

/// How long after a grant of `lease_secs` the engine acts again: `RENEW_FRACTION` of the lease
/// (at least `RENEW_MIN_INTERVAL`); a permanent lease (0) is only checked now and then.
pub(crate) fn renew_interval(lease_secs: u32) -> Duration {
    if lease_secs == 0 {
        return PERMANENT_CHECK_INTERVAL;
    }
    Duration::from_secs_f64(lease_secs as f64 * RENEW_FRACTION).max(RENEW_MIN_INTERVAL)
}

/// When a holding granted for `lease_secs` is renewed: PCP/NAT-PMP at its own randomized
/// fraction of the lifetime the server granted (RFC 6887 §11.2.1), UPnP at `renew_interval`.
pub(crate) fn holding_interval(holding: &Holding, lease_secs: u32) -> Duration {
    match holding {
        Holding::Pcp { mapping } if mapping.lifetime_granted > 0 => {
            Duration::from_millis(u64::from(mapping.lifetime_granted) * u64::from(mapping.renew_permille)).max(RENEW_MIN_INTERVAL)
        }
        _ => renew_interval(lease_secs),
    }
}

/// The back-off after one more failure: `RECOVER_BACKOFF_FIRST`, then doubling up to
/// `RECOVER_BACKOFF_MAX`.
pub(crate) fn next_backoff(current: Duration) -> Duration {
    if current.is_zero() {
        RECOVER_BACKOFF_FIRST
    } else {
        (current * 2).min(RECOVER_BACKOFF_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_comes_at_half_the_lease_and_never_sooner_than_the_floor() {
        assert_eq!(renew_interval(3600), Duration::from_secs(1800));
        assert_eq!(renew_interval(1), RENEW_MIN_INTERVAL);
        assert_eq!(renew_interval(0), PERMANENT_CHECK_INTERVAL);
    }

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let mut b = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..10 {
            b = next_backoff(b);
            seen.push(b);
        }
        assert_eq!(seen[0], RECOVER_BACKOFF_FIRST);
        assert_eq!(seen[1], RECOVER_BACKOFF_FIRST * 2);
        assert_eq!(*seen.last().unwrap(), RECOVER_BACKOFF_MAX);
    }
}
