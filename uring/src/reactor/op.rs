//! What the reactor queues: ops that own their memory.

use crate::op::Submission;
use crate::reactor::ring_buf::RingBuf;
use crate::sys;
use std::fmt;
use std::io;

/// An op that owns everything the kernel uses while it is in flight: its
/// buffers, addresses and descriptors. The reactor keeps it, unmoved, from
/// its submission to its last completion, then turns it into its
/// [`Output`](Op::Output) (the buffer back, an accepted socket, ...).
///
/// The reactor's own ops ([`ops`](crate::reactor::ops)) cover reads,
/// writes, sockets, timeouts and polls; a program can add its own.
///
/// # Safety
///
/// The SQE that [`sqe`](Op::sqe) builds must point only to memory `self`
/// owns (which must stay valid and not move while `self` does not) or to
/// `'static` memory, name only descriptors that `self` keeps open, and be a
/// single op (`Prepare::SQES == 1`) whose memory the kernel no longer uses
/// after its last completion.
///
/// The reactor sets the SQE's `user_data` and clears its
/// `IOSQE_CQE_SKIP_SUCCESS` and `IOSQE_IO_DRAIN` bits: each op posts its
/// last completion, and none waits behind the reactor's own long-lived ops.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a reactor op",
    label = "not an op that owns its memory",
    note = "the reactor queues the ops of `uring::reactor::ops`, which own their buffers and descriptors until their last completion (or a type that implements `uring::reactor::Op`)",
    note = "the ops of `uring::ops` are ring ops: push them with `Ring::push`, or in a `Ring::scope` when they borrow",
    note = "a multishot op of `uring::reactor::ops` (`AcceptMulti`, `RecvMulti`, `PollMulti`) goes to `queue_multishot`, or is awaited as a stream"
)]
pub unsafe trait Op: 'static {
    /// What the completion gives back besides the result.
    type Output;
    /// The SQE, built over the op's memory.
    type Sqe<'a>: Submission + crate::op::FitsSqe<crate::Sqe64>
    where
        Self: 'a;

    /// Builds the SQE; called once, where the reactor keeps the op. Its
    /// `user_data` is the reactor's.
    ///
    /// It runs while the reactor's state is borrowed: using the reactor
    /// from it panics (a shutdown does nothing), and a panic leaves the op
    /// with the reactor, never submitted and never dropped.
    fn sqe(&mut self) -> Self::Sqe<'_>;

    /// Turns the op into its output once the kernel is done with it.
    fn complete(self, completion: Completion) -> Self::Output;

    /// Whether its SQE may select a provided buffer
    /// (`IOSQE_BUFFER_SELECT`), which its completion then carries. True
    /// unless an impl knows better; an SQE that selects one when its op
    /// says it does not is refused, and fails with `EINVAL` unrun.
    #[doc(hidden)]
    const SELECTS_BUFFER: bool = true;

    /// Whether a future of the op dropped before its completion has its
    /// cancel submitted at once (true unless an impl knows better), so
    /// that a read waiting for data takes none that comes after the drop;
    /// an op that takes nothing from anyone (a timeout) leaves its cancel
    /// to the reactor's next submit, saving a system call.
    #[doc(hidden)]
    const CANCEL_AT_ONCE: bool = true;
}

/// A multishot op: one submission, a completion for each event (an accepted
/// connection, a received buffer, a poll wake-up) until the last one, which
/// lacks `IORING_CQE_F_MORE`.
///
/// # Safety
///
/// As for [`Op`]: the kernel may use the memory the SQE points to until the
/// op's last completion.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a multishot reactor op",
    label = "not a multishot op",
    note = "streams and `queue_multishot` take the multishot ops of `uring::reactor::ops` (`AcceptMulti`, `RecvMulti`, `PollMulti`); a one-shot op goes to `op` or `queue`"
)]
pub unsafe trait MultishotOp: 'static {
    /// What each completion yields.
    type Item;
    /// The SQE, built over the op's memory.
    type Sqe<'a>: Submission + crate::op::FitsSqe<crate::Sqe64>
    where
        Self: 'a;

    /// Builds the SQE, as [`Op::sqe`].
    fn sqe(&mut self) -> Self::Sqe<'_>;

    /// Turns one completion into an item.
    ///
    /// For a stream, it runs while the reactor's state is borrowed, as
    /// [`Op::sqe`] does: using the reactor from it panics (a shutdown does
    /// nothing), and a panic loses that item (the stream's reader is woken
    /// all the same, and the panic goes on once the reactor is released).
    fn item(&mut self, completion: Completion) -> Self::Item;

    /// The item a callback ([`Handle::queue_multishot`]) gets after the
    /// op's last one when the kernel ended the op at a completion that
    /// carried an item, with result `res`, rather than at an error or the
    /// end of the stream: the kernel stops a multishot op so when its
    /// completion queue is full. That call tells the callback that no
    /// more will come, so that it can queue the op again. A stream ends
    /// instead. `None`, the default, makes no such call.
    ///
    /// [`Handle::queue_multishot`]: crate::reactor::Handle::queue_multishot
    fn ended(&mut self, res: i32) -> Option<Self::Item> {
        let _ = res;
        None
    }
}

/// The error of the item that follows a multishot op's last one in its
/// callback when the kernel ended the op after an item (see
/// [`MultishotOp::ended`]): of kind [`io::ErrorKind::Interrupted`], this
/// value inside. The op may be queued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultishotEnded;

impl MultishotEnded {
    /// The error a callback gets (kind `Interrupted`, `self` inside).
    pub fn error() -> io::Error {
        io::Error::new(io::ErrorKind::Interrupted, MultishotEnded)
    }

    /// Whether `error` is [`MultishotEnded::error`]'s.
    pub fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<MultishotEnded>().is_some())
    }
}

impl fmt::Display for MultishotEnded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the kernel ended the multishot op after an item, as it does when its completion \
             queue is full: queue it again for more",
        )
    }
}

impl std::error::Error for MultishotEnded {}

/// One completion, as the reactor hands it to an op: the result, the flags,
/// and the provided buffer it names, already claimed.
pub struct Completion {
    pub(crate) res: i32,
    pub(crate) flags: u32,
    pub(crate) buf: Option<RingBuf>,
}

impl Completion {
    pub(crate) fn new(res: i32, flags: u32) -> Completion {
        Completion {
            res,
            flags,
            buf: None,
        }
    }

    /// The raw result: a value, or `-errno`.
    pub fn res(&self) -> i32 {
        self.res
    }

    /// The result: the value, or the error.
    pub fn result(&self) -> io::Result<u32> {
        result(self.res)
    }

    /// The raw `IORING_CQE_F_*` flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether more completions will follow (`IORING_CQE_F_MORE`).
    pub fn has_more(&self) -> bool {
        self.flags & sys::IORING_CQE_F_MORE != 0
    }

    /// The buffer of a provided-buffer ring the op received into, claimed
    /// for the program; `None` once taken, or if the op received none.
    pub fn take_buf(&mut self) -> Option<RingBuf> {
        self.buf.take()
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("res", &self.res)
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("buf", &self.buf)
            .finish()
    }
}

/// A CQE's `res` as a result.
#[inline(always)]
pub(crate) fn result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(os_error(res))
    } else {
        Ok(res as u32)
    }
}

/// The error of a negative `res`, as [`Cqe::result`](crate::Cqe::result)
/// makes it ([`completion_error`](crate::cqueue::completion_error)). In line: an OS error is a
/// word, with nothing to free, which the caller then knows, so that a
/// callback that drops it (or never sees one) calls nothing for it, and
/// one with nothing else to call keeps no registers for the call.
#[inline(always)]
fn os_error(res: i32) -> io::Error {
    io::Error::from_raw_os_error(crate::cqueue::completion_errno(res))
}
