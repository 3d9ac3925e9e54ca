//! The relay window: the server relays for `length` after a successful POP login from our
//! address. This module does the arithmetic only; time is always passed in. It does not log in,
//! send or remember anything (`knowledge` keeps the last login).

use std::time::{Duration, SystemTime};

/// The window opened by one login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayWindow {
    pub opened: SystemTime,
    pub length: Duration,
}

impl RelayWindow {
    /// When the window closes. A length too long to add (from a damaged config) counts as none.
    pub fn closes(&self) -> SystemTime {
        self.opened.checked_add(self.length).unwrap_or(self.opened)
    }

    /// Time left at `now`; zero once closed. A clock that went backwards (before `opened`) is
    /// treated as closed: we cannot know how long ago the login really was.
    pub fn remaining(&self, now: SystemTime) -> Duration {
        if now < self.opened {
            return Duration::ZERO;
        }
        self.closes().duration_since(now).unwrap_or(Duration::ZERO)
    }

    /// True while at least `margin` of the window is left.
    pub fn usable(&self, now: SystemTime, margin: Duration) -> bool {
        self.remaining(now) > margin
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    #[test]
    fn remaining_counts_down_and_stops_at_zero() {
        let w = RelayWindow { opened: t(0), length: Duration::from_secs(600) };
        assert_eq!(w.remaining(t(0)), Duration::from_secs(600));
        assert_eq!(w.remaining(t(18)), Duration::from_secs(582));
        assert_eq!(w.remaining(t(600)), Duration::ZERO);
        assert_eq!(w.remaining(t(10_000)), Duration::ZERO);
        assert_eq!(w.closes(), t(600));
    }

    #[test]
    fn clock_going_backwards_means_closed() {
        let w = RelayWindow { opened: t(100), length: Duration::from_secs(600) };
        assert_eq!(w.remaining(t(50)), Duration::ZERO);
    }

    #[test]
    fn usable_needs_more_than_the_margin() {
        let w = RelayWindow { opened: t(0), length: Duration::from_secs(600) };
        let m = Duration::from_secs(60);
        assert!(w.usable(t(539), m));
        assert!(!w.usable(t(540), m));
        assert!(!w.usable(t(700), m));
    }
}
