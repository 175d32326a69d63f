//! Time values the kernel reads: `struct __kernel_timespec`.
//!
//! Every `Duration` the library takes (timeouts, link timeouts, waits,
//! deadlines, the SQPOLL idle time, synchronous cancellation) converts
//! without overflow: a duration longer than the kernel can represent means
//! "as long as the kernel allows". A relative timeout saturates at the
//! largest `tv_sec` (the kernel's timers saturate in turn, so it never
//! fires); a wait saturates at [`Timespec::MAX_WAIT`], which the kernel can
//! add to the current time without overflowing.

use crate::sys;
use std::fmt;
use std::time::Duration;

/// A `struct __kernel_timespec`: a duration or, with an absolute-timeout
/// flag, a point on the op's clock.
///
/// Made from a `Duration`, it saturates: `tv_sec` never exceeds
/// `i64::MAX`, so `Duration::MAX` is the longest timeout there is, never a
/// negative one that the kernel would refuse.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timespec(sys::__kernel_timespec);

/// The most seconds a `tv_sec` holds.
const MAX_SEC: u64 = i64::MAX as u64;

impl Timespec {
    /// The longest timeout of a wait (`wait_timeout` and the other waits
    /// with a timeout), about 136 years: the kernel adds a wait's timeout to
    /// the current time in signed 64-bit nanoseconds, so a longer one would
    /// wrap around and end the wait at once. Longer durations are clamped
    /// to it.
    pub const MAX_WAIT: Duration = Duration::from_secs(u32::MAX as u64);

    /// `sec` seconds and `nsec` nanoseconds, both saturated: `sec` at
    /// `i64::MAX`, `nsec` at 999 999 999.
    pub const fn new(sec: u64, nsec: u32) -> Timespec {
        let sec = if sec > MAX_SEC { MAX_SEC } else { sec };
        let nsec = if nsec > 999_999_999 {
            999_999_999
        } else {
            nsec
        };
        Timespec(sys::__kernel_timespec {
            tv_sec: sec as i64,
            tv_nsec: nsec as i64,
        })
    }

    /// `d`, clamped to [`MAX_WAIT`](Timespec::MAX_WAIT): the timeout of a
    /// wait.
    pub fn for_wait(d: Duration) -> Timespec {
        Timespec::from(d.min(Timespec::MAX_WAIT))
    }

    /// `deadline` as an absolute time on `CLOCK_MONOTONIC`, the clock of
    /// [`Instant`](std::time::Instant): the time of a timeout flagged
    /// [`TimeoutFlags::ABS`](crate::TimeoutFlags::ABS), which counts to
    /// `deadline` however late the kernel sees the SQE. A deadline in the
    /// past is now; one too far to be written saturates to the largest
    /// time, which the kernel takes as a timeout that never fires.
    pub fn monotonic_at(deadline: std::time::Instant) -> Timespec {
        Timespec::at(Clock::Monotonic, deadline)
    }

    /// `deadline` as an absolute time on `clock`: on `CLOCK_MONOTONIC`, as
    /// [`monotonic_at`](Timespec::monotonic_at); on `CLOCK_BOOTTIME`, the
    /// time that clock will read once as long has passed as is left until
    /// `deadline` now (the two clocks part only while the system sleeps).
    /// For a timeout flagged `ABS` with the same clock, or a wait on a ring
    /// that [`Ring::register_clock`](crate::Ring::register_clock)ed it.
    ///
    /// The time is the one this process's time namespace shows; kernels
    /// before the fix that converts absolute io_uring times from a time
    /// namespace read it on the host's clock, off by the namespace's offset
    /// (the library's own deadlines use the time left in such a namespace).
    pub fn at(clock: Clock, deadline: std::time::Instant) -> Timespec {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        Timespec::from(sys::clock_now(clock.id()).saturating_add(left))
    }

    /// The seconds.
    pub const fn sec(&self) -> u64 {
        self.0.tv_sec as u64
    }

    /// The nanoseconds.
    pub const fn nsec(&self) -> u32 {
        self.0.tv_nsec as u32
    }

    /// The kernel's structure.
    pub const fn into_raw(self) -> sys::__kernel_timespec {
        self.0
    }
}

impl From<Duration> for Timespec {
    /// The duration, saturated at the largest `tv_sec`.
    #[inline]
    fn from(d: Duration) -> Timespec {
        Timespec::new(d.as_secs(), d.subsec_nanos())
    }
}

impl fmt::Debug for Timespec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0.tv_sec, self.0.tv_nsec)
    }
}

/// When a wait with an optional timeout must end: `None` waits for ever,
/// and so does a timeout too long to add to the clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Option<std::time::Instant>);

impl Deadline {
    /// `timeout` from now.
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| std::time::Instant::now().checked_add(t)))
    }

    /// The time left (zero once it has passed), or `None` for ever.
    pub(crate) fn left(&self) -> Option<Duration> {
        self.0
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_saturate_instead_of_wrapping() {
        let max = Timespec::from(Duration::MAX);
        assert_eq!(max.into_raw().tv_sec, i64::MAX);
        assert_eq!(max.nsec(), 999_999_999);
        let huge = Timespec::from(Duration::from_secs(u64::MAX));
        assert!(huge.into_raw().tv_sec > 0);
        assert_eq!(Timespec::new(3, 2_000_000_000).nsec(), 999_999_999);
        assert_eq!(Timespec::from(Duration::from_millis(1500)).sec(), 1);
        assert_eq!(
            Timespec::from(Duration::from_millis(1500)).nsec(),
            500_000_000
        );
    }

    #[test]
    fn waits_clamp_to_what_the_kernel_can_add_to_now() {
        let w = Timespec::for_wait(Duration::MAX);
        assert_eq!(w.sec(), u64::from(u32::MAX));
        // The kernel adds it to the monotonic clock in i64 nanoseconds.
        assert!((w.sec() as i128) * 1_000_000_000 < i64::MAX as i128 / 2);
        assert_eq!(Timespec::for_wait(Duration::from_secs(5)).sec(), 5);
    }
}

/// The clock a ring's waits are timed on ([`Ring::register_clock`](crate::Ring::register_clock)):
/// `CLOCK_MONOTONIC`, the default, or `CLOCK_BOOTTIME`, which also counts
/// the time the system is suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Clock {
    /// `CLOCK_MONOTONIC`.
    Monotonic,
    /// `CLOCK_BOOTTIME`.
    Boottime,
}

impl Clock {
    /// The `clockid_t`.
    pub fn id(self) -> libc::clockid_t {
        match self {
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
            Clock::Boottime => libc::CLOCK_BOOTTIME,
        }
    }
}
