//! Connections a listener accepted for an accept that was given up.
//!
//! A listener's accept runs in the kernel: dropping its future (a `select`
//! whose other branch won, a timeout) or its [`Incoming`](super::Incoming)
//! stream cancels it, but the kernel may have accepted a connection for it
//! first, and its completion then reaches an op nobody awaits. Closing that
//! socket would lose a connection the peer already counts as open. The
//! listener keeps such sockets instead, in its backlog, and its next
//! accept (or stream of accepts) hands them out first, in the order they
//! came: a listener's accepts may be raced and dropped without losing a
//! connection, as with std's and tokio's listeners. The sockets left in the
//! backlog are closed with the listener and its streams, as are those in
//! the kernel's own queue.

use crate::reactor::ops::{Accept, AcceptMulti};
use crate::reactor::{Completion, Handle, MultishotOp, Op, SharedFd};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::{Rc, Weak};
use std::task::Waker;

/// The sockets kept, and the accepts that wait for one.
#[derive(Default)]
struct Queue {
    sockets: RefCell<VecDeque<OwnedFd>>,
    /// The wakers of the accepts (and streams of accepts) waiting in the
    /// kernel, to wake when a socket is kept: the kernel will not give them
    /// that one, which waits here.
    waiters: RefCell<Vec<Waker>>,
}

/// How many wakers the backlog keeps before it wakes them all (they
/// register again if they still wait): those of accepts that stopped
/// waiting are never removed otherwise.
const MAX_WAITERS: usize = 64;

/// The sockets accepted for accepts given up, oldest first; shared by a
/// listener and its streams of accepts.
#[derive(Clone, Default)]
pub(crate) struct Backlog(Rc<Queue>);

impl Backlog {
    /// Wakes `waker` once a socket is kept here: an accept waiting in the
    /// kernel registers, so that it takes the socket rather than wait for
    /// another connection.
    pub(crate) fn wake_on_keep(&self, waker: &Waker) {
        let full = {
            let Ok(mut waiters) = self.0.waiters.try_borrow_mut() else {
                return;
            };
            if waiters.iter().any(|w| w.will_wake(waker)) {
                return;
            }
            if waiters.len() >= MAX_WAITERS {
                std::mem::take(&mut *waiters)
            } else {
                waiters.push(waker.clone());
                return;
            }
        };
        for waker in full {
            waker.wake();
        }
        waker.wake_by_ref();
    }

    /// The oldest socket kept, if any, while `handle`'s reactor runs (once
    /// it has shut down, its listeners hand out nothing more).
    pub(crate) fn take_live(&self, handle: &Handle) -> Option<OwnedFd> {
        if handle.is_shut_down() {
            return None;
        }
        self.take()
    }

    /// Whether a socket is kept, while `handle`'s reactor runs.
    pub(crate) fn has_live(&self, handle: &Handle) -> bool {
        !handle.is_shut_down()
            && self
                .0
                .sockets
                .try_borrow()
                .is_ok_and(|sockets| !sockets.is_empty())
    }

    /// The oldest socket kept, if any.
    fn take(&self) -> Option<OwnedFd> {
        // The queue is borrowed only inside this module's short calls, none
        // of which calls out: a failed borrow cannot happen, and would
        // only mean "nothing kept" here.
        self.0.sockets.try_borrow_mut().ok()?.pop_front()
    }

    /// A one-shot accept on `fd` whose socket, should its future be dropped
    /// after the kernel accepted it, is kept here.
    pub(crate) fn accept(&self, fd: &SharedFd) -> KeptAccept {
        KeptAccept {
            op: Accept::new(fd),
            backlog: Rc::downgrade(&self.0),
        }
    }

    /// A multishot accept on `fd` whose sockets, should its stream be
    /// dropped with them unread, are kept here.
    pub(crate) fn accept_multi(&self, fd: &SharedFd) -> KeptAcceptMulti {
        KeptAcceptMulti {
            op: AcceptMulti::new(fd),
            backlog: Rc::downgrade(&self.0),
        }
    }
}

/// A socket the kernel accepted, on its way to the accept that asked for
/// it: taken with [`claim`](Unclaimed::claim), or, dropped unclaimed, kept
/// in its listener's backlog (closed if the listener and its streams are
/// gone).
pub(crate) struct Unclaimed {
    fd: Option<OwnedFd>,
    backlog: Weak<Queue>,
}

impl Unclaimed {
    /// `fd`, on its way to an accept of the listener whose backlog is
    /// `backlog`.
    fn new(fd: OwnedFd, backlog: &Weak<Queue>) -> Unclaimed {
        Unclaimed {
            fd: Some(fd),
            backlog: backlog.clone(),
        }
    }

    /// The socket, now the caller's.
    pub(crate) fn claim(mut self) -> Option<OwnedFd> {
        self.fd.take()
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take()
            && let Some(queue) = self.backlog.upgrade()
            && let Ok(mut sockets) = queue.sockets.try_borrow_mut()
        {
            sockets.push_back(fd);
            drop(sockets);
            // The accepts waiting in the kernel take it instead (woken
            // outside the borrows: a waker is the program's code).
            let waiters = queue
                .waiters
                .try_borrow_mut()
                .map(|mut w| std::mem::take(&mut *w))
                .unwrap_or_default();
            for waker in waiters {
                waker.wake();
            }
        }
        // Otherwise `fd`, if any, is closed here: nobody can accept it.
    }
}

/// [`Accept`] whose socket is [`Unclaimed`] until its future takes it.
pub(crate) struct KeptAccept {
    op: Accept,
    backlog: Weak<Queue>,
}

// SAFETY: the SQE is the inner accept's, built over the inner op's memory,
// which lives (unmoved, a field of this op) as long as this op does.
unsafe impl Op for KeptAccept {
    type Output = Option<Unclaimed>;
    type Sqe<'a> = <Accept as Op>::Sqe<'a>;

    fn sqe(&mut self) -> Self::Sqe<'_> {
        self.op.sqe()
    }

    fn complete(self, completion: Completion) -> Option<Unclaimed> {
        let fd = self.op.complete(completion)?;
        Some(Unclaimed::new(fd, &self.backlog))
    }
}

/// [`AcceptMulti`] whose sockets are [`Unclaimed`] until its stream takes
/// them.
pub(crate) struct KeptAcceptMulti {
    op: AcceptMulti,
    backlog: Weak<Queue>,
}

// SAFETY: as for `KeptAccept`: the SQE and the memory are the inner op's.
unsafe impl MultishotOp for KeptAcceptMulti {
    type Item = io::Result<Unclaimed>;
    type Sqe<'a> = <AcceptMulti as MultishotOp>::Sqe<'a>;

    fn sqe(&mut self) -> Self::Sqe<'_> {
        self.op.sqe()
    }

    fn item(&mut self, completion: Completion) -> Self::Item {
        let fd = self.op.item(completion)?;
        Ok(Unclaimed::new(fd, &self.backlog))
    }

    fn ended(&mut self, res: i32) -> Option<Self::Item> {
        let backlog = &self.backlog;
        self.op
            .ended(res)
            .map(|item| item.map(|fd| Unclaimed::new(fd, backlog)))
    }
}
