//! tokio's `AsyncRead` / `AsyncWrite` for [`TcpStream`] and [`UnixStream`]:
//! reads go through a
//! buffer the stream owns (a completion-based read cannot fill the caller's
//! borrowed buffer), writes (up to 64 MiB at a time) are copied to one and
//! sent behind the caller,
//! whose next write, flush or shutdown reports their errors; the stream's
//! own sends and write shutdowns refuse to start before that flush. A send in
//! flight when the stream is dropped runs to its end: its bytes were
//! reported written. A deadline set, moved or lifted while a receive or a
//! send is in flight holds for it at its next poll: the op is cancelled
//! and, unless it completes first, started again under the new deadline
//! (`TimedOut` at once if that has passed). A send so cancelled when the
//! stream is dropped is started again all the same, by the callback that
//! gets its result: sends are queued with one, so that what follows a
//! send needs no poll of the stream. Bytes a read received ahead of its
//! caller come first to the stream's plain `read`; its other receives
//! refuse to overtake them.

use crate::MsgFlags;
use crate::net::conn::Conn;
use crate::net::{TcpStream, UnixStream};
use crate::net::{cut, deadlined, timed_out};
use crate::reactor::ops::{Recv, RecvMulti, Send, Shutdown};
use crate::reactor::{
    BufGroup, Handle, IoBuf, IoBufMut, OpFuture, OpId, OpStream, RingBuf, SharedFd, Slice,
};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much one receive reads.
const READ_BUF: usize = 16 * 1024;

/// The most one `poll_write` takes: it copies what it takes, which the
/// stream keeps room for while it lives.
const WRITE_MAX: usize = 64 << 20;

/// The reads and writes in flight through the tokio traits.
#[derive(Default)]
pub(crate) struct IoState {
    /// The read side: in a cell, so that the stream's other receives
    /// (which take `&self`) can hand out what it read ahead first.
    read: RefCell<ReadAhead>,
    write: Option<Sending>,
    /// The deadline the send in flight carries.
    write_by: Carried,
    /// Why the last send could not be queued (the reactor has shut down),
    /// for the next write, flush or shutdown.
    write_failed: Option<io::Error>,
    /// The state the last send shared with its callback, for the next.
    spare: Option<Rc<RefCell<SendState>>>,
    /// The write buffer while no send has it.
    wbuf: Vec<u8>,
    shutdown: Option<OpFuture<Shutdown>>,
}

/// What `AsyncRead` received ahead of its callers, and its receive in
/// flight.
#[derive(Default)]
struct ReadAhead {
    recv: Option<OpFuture<Recv<Vec<u8>>>>,
    /// The deadline the receive in flight carries.
    by: Carried,
    /// Bytes received and not yet read: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// The buffer ring reads go through (`set_read_ring`), if any.
    ring: Option<BufGroup>,
    /// The multishot receive into a buffer ring, while it lives.
    multi: Option<Multi>,
    /// A buffer the multishot receive filled, and how much of it was read:
    /// `held[held_pos..]` is still to read.
    held: Option<RingBuf>,
    held_pos: usize,
    /// The ring had no buffer for the last multishot receive: the next
    /// receive is a one-shot one, into `buf`.
    dry: bool,
}

/// `AsyncRead`'s multishot receive into a buffer ring.
struct Multi {
    stream: OpStream<RecvMulti>,
    /// The group it receives from.
    group: BufGroup,
    /// Whether it was cancelled, for a deadline or another group set
    /// since it started (its `ECANCELED` then only ends it).
    cancelled: bool,
}

impl ReadAhead {
    /// Whether reads go through a multishot receive into `ring` now: a
    /// ring is set, no read deadline (a multishot receive cannot carry a
    /// link timeout), and the ring did not just run dry.
    fn multishot(&self, read_deadline: Option<Instant>) -> Option<BufGroup> {
        self.ring.filter(|_| read_deadline.is_none() && !self.dry)
    }

    /// The error of a receive started beside `AsyncRead`'s own receive in
    /// flight (one-shot or multishot), which the two would race for the
    /// next bytes; `None` when none is.
    fn in_flight(&self) -> Option<io::Error> {
        if self.multi.is_some() {
            Some(read_ahead_in_flight(true))
        } else {
            self.recv.is_some().then(|| read_ahead_in_flight(false))
        }
    }

    /// Copies what is left of the held ring buffer into `out`, up to its
    /// room; gives the buffer back to its ring once read whole.
    fn take_held(&mut self, room: usize, out: impl FnOnce(&[u8])) -> usize {
        let Some(held) = &self.held else { return 0 };
        let n = room.min(held.len() - self.held_pos);
        out(&held[self.held_pos..self.held_pos + n]);
        self.held_pos += n;
        if self.held_pos == held.len() {
            self.held = None;
            self.held_pos = 0;
        }
        n
    }

    /// The multishot side of a read, with nothing held: `Ready(None)` when
    /// a buffer is now held or the read goes the one-shot way (no ring,
    /// a deadline, a dry ring, or the multishot receive just ended for
    /// one of those), `Ready(Some(result))` at the end of the stream or an
    /// error, `Pending` while it waits for bytes.
    fn poll_multishot(
        &mut self,
        cx: &mut Context<'_>,
        handle: &Handle,
        fd: &SharedFd,
        read_deadline: Option<Instant>,
    ) -> Poll<Option<io::Result<()>>> {
        let wanted = self.multishot(read_deadline);
        let multi = match &mut self.multi {
            Some(multi) => {
                if wanted != Some(multi.group) && !multi.cancelled {
                    // A deadline, another ring or none was set since it
                    // started: it ends, and hands over what it received
                    // before.
                    multi.cancelled = true;
                    if let Some(id) = multi.stream.id() {
                        let _ = handle.cancel(id);
                    }
                }
                multi
            }
            None => match wanted {
                Some(group) => self.multi.insert(Multi {
                    stream: handle.stream(RecvMulti::new(fd, group)),
                    group,
                    cancelled: false,
                }),
                None => return Poll::Ready(None),
            },
        };
        let item = std::task::ready!(multi.stream.poll_next(cx));
        let cancelled = multi.cancelled;
        match item {
            Some(Ok(Some(buf))) => {
                self.held = Some(buf);
                self.held_pos = 0;
                Poll::Ready(None)
            }
            // The end of the stream: the receive ends with it, and the next
            // read starts another, which finds the end again.
            Some(Ok(None)) => {
                self.multi = None;
                Poll::Ready(Some(Ok(())))
            }
            Some(Err(e)) => {
                self.multi = None;
                match e.raw_os_error() {
                    // Cut by the cancel above (`ECANCELED`; a multishot
                    // receive never sleeps in a worker, whose cancel would
                    // give `EINTR`, but that would be the same cut).
                    Some(libc::ECANCELED | libc::EINTR) if cancelled => Poll::Ready(None),
                    // No buffer left: this read receives the one-shot way,
                    // the next one through the ring again.
                    Some(libc::ENOBUFS) => {
                        self.dry = true;
                        Poll::Ready(None)
                    }
                    _ => Poll::Ready(Some(Err(e))),
                }
            }
            // Ended after its last buffer (the kernel stops a multishot
            // receive now and then): the next one starts. Or never queued
            // (the reactor has shut down): the read fails as a one-shot
            // one would, rather than start another.
            None => {
                let refused = multi.stream.failure();
                self.multi = None;
                match refused {
                    Some(e) => Poll::Ready(Some(Err(e))),
                    None => Poll::Ready(None),
                }
            }
        }
    }
}

/// The deadline an op in flight was started with, and whether it was
/// asked to stop because the stream's deadline has changed since.
#[derive(Default)]
struct Carried {
    deadline: Option<Instant>,
    /// The deadline the op was cancelled to start again under, if it was.
    cancelled: Option<Option<Instant>>,
}

impl Carried {
    fn new(deadline: Option<Instant>) -> Carried {
        Carried {
            deadline,
            cancelled: None,
        }
    }

    /// Before the op `id` is polled: a deadline set, moved or lifted since
    /// it started holds for it too (go's `SetDeadline`), so it is cancelled
    /// once, to start again under `current` unless it completes first.
    fn follow(
        &mut self,
        current: Option<Instant>,
        handle: &crate::reactor::Handle,
        id: Option<OpId>,
    ) {
        if self.deadline != current && self.cancelled.is_none() {
            self.cancelled = Some(current);
            if let Some(id) = id {
                // An op that has completed meanwhile cancels nothing; its
                // result stands.
                let _ = handle.cancel(id);
            }
        }
    }

    /// The op's result: `None` when it was cancelled, having done nothing,
    /// for a deadline that has changed since it started (by `follow`, or
    /// by the deadline it carried before the change was seen): it starts
    /// again under the current one. Else the result, a cancel by the
    /// deadline it carried being `TimedOut`.
    ///
    /// A cancel ends the op with `ECANCELED`, or with `EINTR` when the
    /// kernel was running it in an io-wq worker (see `net::cut`): both
    /// mean it moved nothing, and either is this cancel when the net layer
    /// asked for one or the deadline it carried has passed.
    fn result(self, result: io::Result<u32>, current: Option<Instant>) -> Option<io::Result<u32>> {
        let cancelled = result.as_ref().is_err_and(cut);
        if cancelled && (self.cancelled.is_some() || self.deadline != current) {
            return None;
        }
        Some(deadlined(result, self.deadline))
    }
}

impl Conn {
    /// What the stream's drop does for its tokio I/O: `poll_write` said
    /// the bytes in flight were written, so they are sent, not cancelled
    /// (the reactor keeps the buffer, and the socket open, until the
    /// send's completion). A send the stream's write deadline has changed
    /// under since it started is cancelled (if no poll did it already) and
    /// sent again under the stream's last deadline, as the next poll would
    /// have, unless that has passed.
    pub(crate) fn drop_io(&mut self) {
        if let Some(send) = self.io.write.take() {
            // A deadline changed since the send started holds for it now,
            // not only from where it would have started again.
            self.io
                .write_by
                .follow(self.write_deadline, &self.handle, Some(send.id));
            let resend = Resend {
                deadline: self.write_deadline,
                restart: self.io.write_by.cancelled.is_some(),
            };
            send.orphan(&self.handle, &self.fd, resend);
        }
    }
}

/// A send of the bytes `poll_write` took: all of them (`MSG_WAITALL`: the
/// kernel sends again what a short send left), so that one dropped with
/// the stream ends only once every byte is sent, or the socket fails.
fn send_all(fd: &SharedFd, bytes: Slice<Vec<u8>>) -> Send<Slice<Vec<u8>>> {
    Send::new(fd, bytes).flags(MsgFlags::NOSIGNAL | MsgFlags::WAITALL)
}

/// A send in flight, queued with a callback: its result comes back here
/// while the stream lives, and once the stream is dropped the callback
/// sends on what the stream reported written.
struct Sending {
    id: OpId,
    state: Rc<RefCell<SendState>>,
}

/// What a send's callback and its stream share.
#[derive(Default)]
struct SendState {
    /// The send's result and its bytes, once it completed.
    done: Option<(io::Result<u32>, Slice<Vec<u8>>)>,
    /// The task waiting for it.
    waker: Option<Waker>,
    /// Set when the stream is dropped before the send completed.
    orphaned: Option<Resend>,
}

/// How a send goes on once its stream is dropped.
#[derive(Clone, Copy)]
struct Resend {
    /// The deadline what is left is sent under.
    deadline: Option<Instant>,
    /// Whether the send, if cancelled, starts again under `deadline`: its
    /// stream's deadline changed since it started.
    restart: bool,
}

impl Sending {
    /// Queues a send of `bytes` on `fd`, under `deadline`, sharing `state`
    /// (fresh, or one no callback holds any more) with its callback.
    fn start(
        handle: &Handle,
        fd: &SharedFd,
        bytes: Slice<Vec<u8>>,
        deadline: Option<Instant>,
        state: Rc<RefCell<SendState>>,
    ) -> io::Result<Sending> {
        let id = queue_send(handle, fd, bytes, deadline, Rc::clone(&state))?;
        Ok(Sending { id, state })
    }

    /// The send's result and its bytes, once it has completed.
    ///
    /// Wakers are cloned and dropped with the state released: either may
    /// be the program's code, which may use the reactor (and so run the
    /// send's callback) again.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(io::Result<u32>, Slice<Vec<u8>>)> {
        let mut state = self.state.borrow_mut();
        if let Some(done) = state.done.take() {
            return Poll::Ready(done);
        }
        if state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        drop(state);
        let waker = cx.waker().clone();
        let mut state = self.state.borrow_mut();
        let old = state.waker.replace(waker);
        // The clone may have let the callback run.
        let done = state.done.take();
        drop(state);
        drop(old);
        match done {
            Some(done) => Poll::Ready(done),
            None => Poll::Pending,
        }
    }

    /// Leaves the send to its callback, the stream being dropped: what is
    /// left of its bytes is sent as `resend` says, now if it completed
    /// already.
    fn orphan(self, handle: &Handle, fd: &SharedFd, resend: Resend) {
        let mut state = self.state.borrow_mut();
        let waker = state.waker.take();
        let done = state.done.take();
        if done.is_none() {
            state.orphaned = Some(resend);
        }
        drop(state);
        // Dropped with the state released (it may be the program's code,
        // and run the callback, which finds the send orphaned).
        drop(waker);
        if let Some((result, bytes)) = done {
            send_rest(handle, fd, resend, result, bytes);
        }
    }
}

/// Queues a send of `bytes` on `fd`, under `deadline`, whose callback
/// hands its result to `state` (see `sent`).
fn queue_send(
    handle: &Handle,
    fd: &SharedFd,
    bytes: Slice<Vec<u8>>,
    deadline: Option<Instant>,
    state: Rc<RefCell<SendState>>,
) -> io::Result<OpId> {
    let op = send_all(fd, bytes);
    let (h, f) = (handle.clone(), fd.clone());
    let callback = move |result, bytes| sent(&h, &f, &state, result, bytes);
    match deadline {
        Some(deadline) => handle.queue_with_deadline(op, deadline, callback),
        None => handle.queue(op, callback),
    }
}

/// A send's callback: hands its result to the stream, or, the stream being
/// gone, sends on what is left (see `send_rest`).
fn sent(
    handle: &Handle,
    fd: &SharedFd,
    state: &Rc<RefCell<SendState>>,
    result: io::Result<u32>,
    bytes: Slice<Vec<u8>>,
) {
    let mut shared = state.borrow_mut();
    match shared.orphaned.take() {
        None => {
            shared.done = Some((result, bytes));
            let waker = shared.waker.take();
            drop(shared);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        Some(resend) => {
            drop(shared);
            send_rest(handle, fd, resend, result, bytes);
        }
    }
}

/// Sends on, for a dropped stream, what a send whose result was `result`
/// left of `bytes`: the rest of a short send, or all of one cancelled to
/// start again under a new deadline (`ECANCELED`, or `EINTR` from a send
/// the kernel ran in a worker: see `net::cut`), unless that deadline has
/// passed. A send that failed, or was cut by its own deadline, ends there.
fn send_rest(
    handle: &Handle,
    fd: &SharedFd,
    resend: Resend,
    result: io::Result<u32>,
    bytes: Slice<Vec<u8>>,
) {
    let sent = match result {
        Ok(n) if n > 0 => n as usize,
        Err(e) if resend.restart && cut(&e) => 0,
        _ => return,
    };
    let (begin, end) = (bytes.begin(), bytes.end());
    if begin + sent >= end || resend.deadline.is_some_and(|d| Instant::now() >= d) {
        return;
    }
    let rest = bytes.into_inner().slice(begin + sent..end);
    let state = Rc::new(RefCell::new(SendState {
        orphaned: Some(Resend {
            deadline: resend.deadline,
            restart: false,
        }),
        ..SendState::default()
    }));
    // Refused only by a reactor that has shut down, which drops the bytes.
    let _ = queue_send(handle, fd, rest, resend.deadline, state);
}

/// The error of a receive started while one through `AsyncRead` is in
/// flight on the same stream.
fn read_ahead_in_flight(multishot: bool) -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        if multishot {
            "AsyncRead's multishot receive (set_read_ring) lives on this stream: \
             set_read_ring(None), then read through AsyncRead until its bytes are read"
        } else {
            "a receive through AsyncRead is in flight on this stream: finish it first"
        },
    )
}

/// Starts `op` on `handle`, bounded by `deadline`.
fn start<O: crate::reactor::Op>(handle: &Handle, op: O, deadline: Option<Instant>) -> OpFuture<O> {
    match deadline {
        Some(deadline) => handle.op_with_deadline(op, deadline),
        None => handle.op(op),
    }
}

impl Conn {
    /// Drives the send in flight to its end, sending again what a short
    /// send left.
    fn poll_sent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(e) = self.io.write_failed.take() {
                return Poll::Ready(Err(e));
            }
            let Some(send) = &mut self.io.write else {
                return Poll::Ready(Ok(()));
            };
            self.io
                .write_by
                .follow(self.write_deadline, &self.handle, Some(send.id));
            let (result, slice) = std::task::ready!(send.poll(cx));
            // Its callback has run: the next send can share its state.
            self.io.spare = self.io.write.take().map(|send| send.state);
            let (begin, end) = (slice.begin(), slice.end());
            let buf = slice.into_inner();
            let carried = std::mem::take(&mut self.io.write_by);
            let Some(result) = carried.result(result, self.write_deadline) else {
                // Cancelled before it sent a byte, to take the new deadline.
                self.send_again(buf.slice(begin..end));
                continue;
            };
            match result {
                Ok(n) if n > 0 && begin + (n as usize) < end => {
                    self.send_again(buf.slice(begin + n as usize..end));
                }
                Ok(0) if begin < end => {
                    self.io.wbuf = buf;
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Ok(_) => self.io.wbuf = buf,
                Err(e) => {
                    self.io.wbuf = buf;
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// Sends `rest` of what `poll_write` took, under the write deadline
    /// (`TimedOut` at the flush if it has passed).
    fn send_again(&mut self, rest: Slice<Vec<u8>>) {
        if self.write_deadline.is_some_and(|d| Instant::now() >= d) {
            // Not even queued: a send the socket takes at once would
            // complete before its link timeout fires.
            self.io.wbuf = rest.into_inner();
            self.io.write_failed = Some(timed_out());
            return;
        }
        let state = match self.io.spare.take() {
            Some(state) if Rc::strong_count(&state) == 1 => state,
            _ => Rc::default(),
        };
        match Sending::start(&self.handle, &self.fd, rest, self.write_deadline, state) {
            Ok(send) => {
                self.io.write = Some(send);
                self.io.write_by = Carried::new(self.write_deadline);
            }
            // The reactor has shut down (the bytes are dropped with the op):
            // the next write, flush or shutdown says so.
            Err(e) => self.io.write_failed = Some(e),
        }
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Conn {
            handle,
            fd,
            read_deadline,
            io,
            ..
        } = self;
        let ra = io.read.get_mut();
        loop {
            if ra.pos < ra.buf.len() {
                let n = out.remaining().min(ra.buf.len() - ra.pos);
                out.put_slice(&ra.buf[ra.pos..ra.pos + n]);
                ra.pos += n;
                return Poll::Ready(Ok(()));
            }
            if ra.take_held(out.remaining(), |bytes| out.put_slice(bytes)) > 0 {
                return Poll::Ready(Ok(()));
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if ra.recv.is_none() {
                match ra.poll_multishot(cx, handle, fd, *read_deadline) {
                    Poll::Ready(Some(result)) => return Poll::Ready(result),
                    // A buffer to read, or another multishot receive to
                    // start (the last one ended for a new ring, or after
                    // its last buffer).
                    Poll::Ready(None)
                        if ra.held.is_some() || ra.multishot(*read_deadline).is_some() =>
                    {
                        continue;
                    }
                    Poll::Ready(None) => {}
                    Poll::Pending => return Poll::Pending,
                }
            }
            let recv = match &mut ra.recv {
                Some(recv) => {
                    ra.by.follow(*read_deadline, handle, recv.id());
                    recv
                }
                None => {
                    if read_deadline.is_some_and(|d| Instant::now() >= d) {
                        return Poll::Ready(Err(timed_out()));
                    }
                    let mut buf = std::mem::take(&mut ra.buf);
                    buf.clear();
                    buf.reserve(READ_BUF);
                    let recv = start(handle, Recv::new(fd, buf), *read_deadline);
                    ra.by = Carried::new(*read_deadline);
                    ra.recv.insert(recv)
                }
            };
            let (result, buf) = std::task::ready!(Pin::new(recv).poll(cx));
            ra.recv = None;
            ra.dry = false;
            ra.buf = buf;
            ra.pos = 0;
            let carried = std::mem::take(&mut ra.by);
            let Some(result) = carried.result(result, *read_deadline) else {
                // Cancelled before it received a byte, to take the new
                // deadline: received again under it.
                ra.buf.clear();
                continue;
            };
            match result {
                Err(e) => return Poll::Ready(Err(e)),
                // The end of the stream: nothing filled.
                Ok(0) => return Poll::Ready(Ok(())),
                Ok(n) => ra.buf.truncate(n as usize),
            }
        }
    }

    /// For a receive other than `AsyncRead`'s, which must not overtake
    /// what it received: the bytes it received ahead, first, copied into
    /// `buf` (`Some(Ok(n))`); an error if its receive is in flight, which
    /// the two would race for the next bytes; or `None`, to receive.
    pub(crate) fn take_read_ahead<B: IoBufMut>(&self, buf: &mut B) -> Option<io::Result<usize>> {
        let mut ra = self.io.read.borrow_mut();
        let room = buf.bytes_total();
        let mut copy = |bytes: &[u8]| {
            // SAFETY: `buf` lends `bytes_total()` writable bytes from its
            // first, which no op uses (it is the caller's, not in flight);
            // `bytes` is at most that long (`room`) and not in `buf`.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.stable_mut_ptr(), bytes.len());
                buf.set_init(bytes.len());
            }
        };
        if ra.pos < ra.buf.len() {
            let n = (ra.buf.len() - ra.pos).min(room);
            copy(&ra.buf[ra.pos..ra.pos + n]);
            ra.pos += n;
            return Some(Ok(n));
        }
        if ra.held.is_some() {
            return Some(Ok(ra.take_held(room, copy)));
        }
        ra.in_flight().map(Err)
    }

    /// For a receive that cannot take `AsyncRead`'s bytes received ahead
    /// (into a buffer ring, with descriptors): an error while there are
    /// some, or while its receive is in flight.
    pub(crate) fn no_read_ahead(&self) -> io::Result<()> {
        let ra = self.io.read.borrow();
        if ra.pos < ra.buf.len() || ra.held.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bytes received ahead through AsyncRead wait on this stream: read them first",
            ));
        }
        match ra.in_flight() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sets the buffer ring `AsyncRead` receives through (see the streams'
    /// `set_read_ring`).
    pub(crate) fn set_read_ring(&mut self, group: Option<BufGroup>) {
        self.io.read.get_mut().ring = group;
    }

    /// For a send outside the tokio traits, or a shutdown of the write
    /// side: an error while bytes `poll_write` reported written have not
    /// been flushed, which the send would overtake (the kernel wakes the
    /// sends waiting on a socket newest first) or the shutdown cut off.
    pub(crate) fn no_write_behind(&self) -> io::Result<()> {
        match self.io.write {
            Some(_) => Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "bytes written through AsyncWrite are still being sent on this stream: flush it first",
            )),
            None => Ok(()),
        }
    }

    fn poll_write_buf(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self;
        std::task::ready!(this.poll_sent(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.write_deadline.is_some_and(|d| Instant::now() >= d) {
            return Poll::Ready(Err(timed_out()));
        }
        let data = &data[..data.len().min(WRITE_MAX)];
        let mut buf = std::mem::take(&mut this.io.wbuf);
        buf.clear();
        buf.extend_from_slice(data);
        this.send_again(buf.slice(..));
        Poll::Ready(Ok(data.len()))
    }

    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self;
        std::task::ready!(this.poll_sent(cx))?;
        let shutdown = match &mut this.io.shutdown {
            Some(shutdown) => shutdown,
            None => {
                let op = Shutdown::new(&this.fd, libc::SHUT_WR);
                this.io.shutdown.insert(this.handle.op(op))
            }
        };
        let (result, ()) = std::task::ready!(Pin::new(shutdown).poll(cx));
        this.io.shutdown = None;
        Poll::Ready(result.map(drop))
    }
}

/// tokio's traits for a stream socket type with a `conn`.
macro_rules! tokio_io {
    ($($ty:ty),*) => {$(
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                out: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.get_mut().conn.poll_read_buf(cx, out)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().conn.poll_write_buf(cx, data)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().conn.poll_sent(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().conn.poll_shutdown_write(cx)
            }
        }
    )*};
}

tokio_io!(TcpStream, UnixStream);
