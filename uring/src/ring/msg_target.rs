//! A ring named from other threads, as the target of messages.

use super::Ring;
use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::sys;
use crate::types::Fd;
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A ring as the target of messages (`MsgRing`, `MsgRingFd` into a slot the
/// kernel picks, [`post`](RingTarget::post)) from any thread: a duplicate
/// of the ring's descriptor, made by [`Ring::msg_target`].
///
/// A `&Ring` names a ring on its own thread only (a ring is not `Sync`);
/// this is `Send` and `Sync`, and keeps the kernel's ring alive while it
/// lives, even past the `Ring` (messages then reach a ring nobody reads).
///
/// While a target of a ring lives, the ring's scopes refuse every push
/// ([`PushErrorKind::Targeted`](crate::PushErrorKind::Targeted)), and
/// [`Reactor::from_ring`](crate::reactor::Reactor::from_ring) refuses the
/// ring: another thread could read the tag of a scope's op in flight (the
/// kernel lists them in `/proc/self/fdinfo`) and post a completion that
/// carries it, which would end the op's borrows while the kernel still
/// uses them. A message sent before a scope began cannot pass for one of
/// its ops: each scope draws its tags' key afresh, and a ring that had a
/// target tags every op of its scopes. A target given to `mem::forget`
/// counts as live for good: the ring's scopes and reactors stay refused.
///
/// So two rings on two threads that each hold the other's target cannot
/// send with `MsgRing` pushed in a scope (their scopes take no op while
/// the other's target lives, and a `MsgRing` borrows the target, so only a
/// scope takes it): they send with [`post`](RingTarget::post) (6.13),
/// which needs no ring of the sender's, or through a reactor's
/// [`Remote`](crate::reactor::Remote).
pub struct RingTarget {
    fd: OwnedFd,
    /// The ring's count of live targets.
    live: Arc<AtomicUsize>,
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// A target for messages to this ring from any thread
    /// ([`RingTarget`]; no scope of the ring runs while it lives). Fails
    /// with `EBADF` on a ring without a descriptor
    /// ([`Builder::registered_fd_only`](crate::Builder::registered_fd_only),
    /// [`close_ring_fd`](Ring::close_ring_fd)), or as `fcntl` does.
    pub fn msg_target(&self) -> Result<RingTarget> {
        if self.fd < 0 {
            return Err(Error::os(
                "fcntl(F_DUPFD_CLOEXEC) (the ring has no descriptor)",
                std::io::Error::from_raw_os_error(libc::EBADF),
            ));
        }
        let fd = crate::buf_ring::dup_ring_fd(self.fd)?;
        // Messages may reach the ring from now on, for good: it is never
        // again one that only its scopes' ops post into.
        self.outside.set(true);
        let live = Arc::clone(self.msg_targets.get_or_init(Default::default));
        // Relaxed: this thread owns the ring, and reads the count itself.
        live.fetch_add(1, Ordering::Relaxed);
        Ok(RingTarget { fd, live })
    }

    /// Whether a [`RingTarget`] of the ring is alive.
    pub(crate) fn has_msg_targets(&self) -> bool {
        // Acquire, paired with the release of a target's drop: whatever its
        // thread did with it (its messages sent, the ops that named it
        // completed) happens before what the ring does next.
        self.msg_targets
            .get()
            .is_some_and(|live| live.load(Ordering::Acquire) > 0)
    }
}

impl RingTarget {
    /// Posts a completion with `res` and `user_data` to the ring, from no
    /// ring (`IORING_REGISTER_SEND_MSG_RING`, 6.13), as
    /// [`Ring::post`](crate::Ring::post) does.
    pub fn post(&self, res: i32, user_data: u64) -> Result<()> {
        post(self.fd.as_raw_fd(), res, user_data)
    }
}

/// Posts a data message with `res` and `user_data` to the ring of `fd`
/// through `IORING_REGISTER_SEND_MSG_RING`.
pub(crate) fn post(fd: RawFd, res: i32, user_data: u64) -> Result<()> {
    let sqe = sys::io_uring_sqe {
        opcode: sys::IORING_OP_MSG_RING,
        fd,
        len: res as u32,
        off: sys::io_uring_sqe_off { off: user_data },
        addr: sys::io_uring_sqe_addr {
            addr: sys::IORING_MSG_DATA,
        },
        ..Default::default()
    };
    // SAFETY: the SQE is a data message to the ring of `fd`, which the
    // caller keeps open for the call; it names no memory.
    unsafe {
        sys::io_uring_register(
            -1,
            sys::IORING_REGISTER_SEND_MSG_RING,
            (&sqe as *const sys::io_uring_sqe).cast(),
            1,
        )
    }
    .map(drop)
    .map_err(|e| Error::os("IORING_REGISTER_SEND_MSG_RING", e))
}

impl<'t> From<&'t RingTarget> for Fd<'t> {
    fn from(target: &'t RingTarget) -> Fd<'t> {
        // SAFETY: the duplicate is open for as long as the target, which
        // `'t` borrows; the ring was marked when the target was made.
        unsafe { Fd::borrow_raw(target.fd.as_raw_fd()) }
    }
}

impl AsRawFd for RingTarget {
    /// The duplicate descriptor, as a number. Like the ring, the target
    /// lends out no `BorrowedFd`.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for RingTarget {
    fn drop(&mut self) {
        // Release: see `Ring::has_msg_targets`.
        self.live.fetch_sub(1, Ordering::Release);
    }
}

impl fmt::Debug for RingTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RingTarget")
            .field(&self.fd.as_raw_fd())
            .finish()
    }
}
