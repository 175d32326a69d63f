//! The library's errors.

use std::fmt;
use std::io;

/// What can go wrong in the ring itself. An op's own failure is not an
/// `Error`: it arrives in its completion, as [`Cqe::result`](crate::Cqe::result).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ring's configuration was rejected before the kernel saw it.
    #[error("io_uring setup rejected: {0}")]
    Setup(&'static str),
    /// An argument was out of range; the message names it.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The submission queue had no room; the op was handed back where the
    /// call's signature allows it (see [`PushError`]).
    #[error("the submission queue is full")]
    QueueFull,
    /// A push was refused for another reason than room: see
    /// [`PushErrorKind`].
    #[error("push refused: {0}")]
    PushRefused(PushErrorKind),
    /// A wait ran out of time before enough completions arrived.
    #[error("timed out waiting for completions")]
    TimedOut,
    /// The running kernel lacks a feature the call needs.
    #[error("the running kernel does not support {0}")]
    Unsupported(&'static str),
    /// The running kernel does not know an op.
    #[error("the running kernel does not support the {name} op (opcode {code})")]
    UnsupportedOp {
        /// The op's name.
        name: &'static str,
        /// Its opcode.
        code: u8,
    },
    /// A system call failed; `call` names it (`io_uring_setup`,
    /// `IORING_REGISTER_FILES`, ...).
    #[error("{call} failed: {source}")]
    Os {
        /// The call or register opcode that failed.
        call: &'static str,
        /// The errno it returned.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn os(call: &'static str, source: io::Error) -> Error {
        Error::Os { call, source }
    }

    /// The errno behind this error: the kernel's, or for a mistake caught
    /// before any system call ([`Setup`](Error::Setup),
    /// [`InvalidArgument`](Error::InvalidArgument)) `EINVAL`, which the
    /// kernel gives for it.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Os { source, .. } => source.raw_os_error(),
            Error::TimedOut => Some(libc::ETIME),
            Error::Setup(_) | Error::InvalidArgument(_) => Some(libc::EINVAL),
            _ => None,
        }
    }
}

/// An [`Error::Os`] becomes its `io::Error`, errno and all; the others
/// an `io::Error` of the nearest kind (`TimedOut`, `Unsupported`,
/// `WouldBlock`, `InvalidInput`) that carries the `Error` (it turns back
/// into it), whose `raw_os_error()` is `None`: the errno
/// [`Error::raw_os_error`] gives them (`ETIME` for a timed-out wait,
/// `EINVAL`) is read before the conversion.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Os { source, .. } => source,
            Error::TimedOut => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::Unsupported(_) | Error::UnsupportedOp { .. } => {
                io::Error::new(io::ErrorKind::Unsupported, e)
            }
            Error::QueueFull => io::Error::new(io::ErrorKind::WouldBlock, e),
            Error::PushRefused(PushErrorKind::ScopeFull) => {
                io::Error::new(io::ErrorKind::WouldBlock, e)
            }
            Error::PushRefused(PushErrorKind::AfterDrain) => {
                io::Error::new(io::ErrorKind::Unsupported, e)
            }
            Error::PushRefused(_) | Error::Setup(_) | Error::InvalidArgument(_) => {
                io::Error::new(io::ErrorKind::InvalidInput, e)
            }
        }
    }
}

/// For `?` on an `io::Result` in a function that returns a [`Result`]: a
/// completion's result ([`Cqe::result`](crate::Cqe::result)), say. An
/// `io::Error` made from an [`Error`] turns back into it; any other becomes
/// [`Error::Os`] with `call` `"I/O"`, its errno kept.
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let kind = e.kind();
            return match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(error)) => *error,
                // Not reached: the inner error was checked above.
                _ => Error::os("I/O", io::Error::from(kind)),
            };
        }
        Error::os("I/O", e)
    }
}

/// Why a push did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PushErrorKind {
    /// The submission queue lacks room for all the SQEs of the op or chain
    /// (submit, then push again; a chain longer than the queue never fits).
    QueueFull,
    /// A scope tracks as many ops in flight as its table holds; read
    /// completions, then push again.
    ScopeFull,
    /// The ring was created disabled and is not enabled yet, so a scope
    /// could not wait for what it pushes.
    Disabled,
    /// A registered file of the op belongs to another ring.
    ForeignFile,
    /// The closure given to [`Scope::push_owned`](crate::Scope::push_owned)
    /// pushed nothing over the buffer.
    NothingPushed,
    /// A [`RingTarget`](crate::RingTarget) of the ring was alive when the
    /// scope began: another thread could post into the ring, so the scope
    /// takes no op. Drop every target, then begin a new scope.
    Targeted,
    /// A zero-copy send, on a ring that has taken an op flagged
    /// `IO_DRAIN`. The kernel may hold the send behind its drain forever
    /// (Linux 6.18 never issues a zero-copy send that a drain defers, and
    /// no cancel reaches it), and keeps the drain on after the drained op
    /// completes for as long as user space cannot tell. Send from a ring
    /// that takes no drain.
    AfterDrain,
    /// A chain, on a ring whose SQ thread is shared with another ring
    /// (SQPOLL rings joined by [`Builder::attach_wq`](crate::Builder::attach_wq)):
    /// Linux 6.18's shared thread takes at most 8 SQEs from each ring per
    /// pass and queues a chain its pass cuts as two independent chains, so
    /// the ops after the cut would run without waiting for those before.
    /// Push the ops one at a time (waiting for each), or from a ring with
    /// an SQ thread of its own.
    SharedSqThread,
    /// The ring has no descriptor ([`Builder::registered_fd_only`](crate::Builder::registered_fd_only),
    /// [`Ring::close_ring_fd`](crate::Ring::close_ring_fd)) and the scope
    /// runs on a thread other than the one that registered its index: no
    /// enter of this thread reaches the ring, so the scope could not wait
    /// for what it pushes (an SQ thread would still run it). Use the ring
    /// on the thread that made it.
    OtherThread,
    /// The ring's restrictions, registered through it, refuse the request
    /// the push would make (a scope's cancel request, when they leave out
    /// `IORING_OP_ASYNC_CANCEL` or require SQE flags it cannot carry): the
    /// kernel would fail it with `EACCES`, unseen, and the op would go on.
    Restricted,
}

impl fmt::Display for PushErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushErrorKind::QueueFull => "the submission queue is full",
            PushErrorKind::ScopeFull => "the scope tracks as many ops in flight as it can",
            PushErrorKind::Disabled => "the ring is disabled",
            PushErrorKind::ForeignFile => "a registered file of the op belongs to another ring",
            PushErrorKind::NothingPushed => "no op was pushed over the buffer",
            PushErrorKind::Targeted => "a RingTarget of the ring was alive when the scope began",
            PushErrorKind::SharedSqThread => {
                "a chain, on a ring whose SQ thread is shared with another ring"
            }
            PushErrorKind::OtherThread => {
                "the ring has no descriptor, and its registered index belongs to another thread"
            }
            PushErrorKind::Restricted => "the ring's restrictions refuse the request",
            PushErrorKind::AfterDrain => {
                "the ring took an op flagged IO_DRAIN, and its drain could hold a zero-copy send \
                 forever"
            }
        })
    }
}

/// A push that did not happen: nothing was written, and the op or chain is
/// handed back, with the reason.
pub struct PushError<T> {
    submission: T,
    kind: PushErrorKind,
}

impl<T> PushError<T> {
    pub(crate) fn new(submission: T, kind: PushErrorKind) -> PushError<T> {
        PushError { submission, kind }
    }

    pub(crate) fn full(submission: T) -> PushError<T> {
        PushError::new(submission, PushErrorKind::QueueFull)
    }

    pub(crate) fn foreign_file(submission: T) -> PushError<T> {
        PushError::new(submission, PushErrorKind::ForeignFile)
    }

    /// Why.
    pub fn kind(&self) -> PushErrorKind {
        self.kind
    }

    /// Whether the queue (or the scope) had no room: trying again after
    /// submitting or reading completions may succeed.
    pub fn is_full(&self) -> bool {
        matches!(
            self.kind,
            PushErrorKind::QueueFull | PushErrorKind::ScopeFull
        )
    }

    /// The op or chain that was not pushed.
    pub fn into_inner(self) -> T {
        self.submission
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PushError").field(&self.kind).finish()
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl<T> std::error::Error for PushError<T> {}

impl<T> From<PushError<T>> for Error {
    fn from(e: PushError<T>) -> Error {
        match e.kind {
            PushErrorKind::QueueFull => Error::QueueFull,
            kind => Error::PushRefused(kind),
        }
    }
}

/// An unregistration that did not happen (the handle belongs to another ring,
/// or the kernel refused): the handle is given back so that it can be used
/// with the right ring, or tried again.
pub struct HandleError<H> {
    /// Why.
    pub error: Error,
    /// The registration handle, still valid.
    pub handle: H,
}

impl<H> fmt::Debug for HandleError<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandleError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<H> fmt::Display for HandleError<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<H> std::error::Error for HandleError<H> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<H> From<HandleError<H>> for Error {
    fn from(e: HandleError<H>) -> Error {
        e.error
    }
}

/// The library's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
