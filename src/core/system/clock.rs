//! Injected time, so the relay window, the backoff and the window's countdown are tested
//! without sleeping: the wall-clock time (`now`) and the waiting (`sleep`) come from the same
//! clock. Must not read the time anywhere else in the core.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;

    /// Waits `d` of this clock's time (tokio's timer by default).
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock pinned to one instant, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// A clock that follows tokio's timer, from the wall-clock time it was made at: under a paused
/// runtime (`tokio::time::pause`, `start_paused`) `now` and `sleep` move together, so a test of
/// the engine's timers (backoff, polling, probing) runs minutes of its time in no time.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: SystemTime,
    at: tokio::time::Instant,
}

impl TokioClock {
    /// Must be made inside a runtime.
    pub fn new() -> TokioClock {
        TokioClock { wall: SystemTime::now(), at: tokio::time::Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> TokioClock {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall + self.at.elapsed()
    }
}
