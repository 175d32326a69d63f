//! tokio's `AsyncRead` / `AsyncWrite` for [`TcpStream`] and [`UnixStream`]:
//! reads go through a
//! buffer the stream owns (a completion-based read cannot fill the caller's
//! borrowed buffer), writes are copied to one and sent behind the caller,
//! whose next write, flush or shutdown reports their errors. A send in
//! flight when the stream is dropped runs to its end: its bytes were
//! reported written. A deadline set, moved or lifted while a receive or a
//! send is in flight holds for it at its next poll: the op is cancelled
//! and, unless it completes first, started again under the new deadline
//! (`TimedOut` at once if that has passed).

use crate::MsgFlags;
use crate::net::conn::Conn;
use crate::net::{TcpStream, UnixStream};
use crate::net::{deadlined, timed_out};
use crate::reactor::ops::{Recv, Send, Shutdown};
use crate::reactor::{IoBuf, OpFuture, OpId, Slice};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much one receive reads.
const READ_BUF: usize = 16 * 1024;

/// The reads and writes in flight through the tokio traits.
#[derive(Default)]
pub(crate) struct IoState {
    read: Option<OpFuture<Recv<Vec<u8>>>>,
    /// The deadline the read in flight carries.
    read_by: Carried,
    /// Bytes received and not yet read: `rbuf[rpos..]`.
    rbuf: Vec<u8>,
    rpos: usize,
    write: Option<OpFuture<Send<Slice<Vec<u8>>>>>,
    /// The deadline the send in flight carries.
    write_by: Carried,
    /// The write buffer while no send has it.
    wbuf: Vec<u8>,
    shutdown: Option<OpFuture<Shutdown>>,
}

/// The deadline an op in flight was started with, and whether it was
/// asked to stop because the stream's deadline has changed since.
#[derive(Default)]
struct Carried {
    deadline: Option<Instant>,
    cancelled: bool,
}

impl Carried {
    fn new(deadline: Option<Instant>) -> Carried {
        Carried {
            deadline,
            cancelled: false,
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
        if self.deadline != current && !self.cancelled {
            self.cancelled = true;
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
    fn result(self, result: io::Result<u32>, current: Option<Instant>) -> Option<io::Result<u32>> {
        let cancelled = result
            .as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::ECANCELED));
        if cancelled && (self.cancelled || self.deadline != current) {
            return None;
        }
        Some(deadlined(result, self.deadline))
    }
}

impl Drop for IoState {
    fn drop(&mut self) {
        // `poll_write` said these bytes were written: they are sent, not
        // cancelled (the reactor keeps the buffer, and the socket open,
        // until the send's completion).
        if let Some(send) = self.write.take() {
            send.detach();
        }
    }
}

/// A send of the bytes `poll_write` took: all of them (`MSG_WAITALL`: the
/// kernel sends again what a short send left), so that one dropped with
/// the stream ends only once every byte is sent, or the socket fails.
fn send_all(fd: &crate::reactor::SharedFd, bytes: Slice<Vec<u8>>) -> Send<Slice<Vec<u8>>> {
    Send::new(fd, bytes).flags(MsgFlags::NOSIGNAL | MsgFlags::WAITALL)
}

impl Conn {
    fn start<O: crate::reactor::Op>(&self, op: O, deadline: Option<Instant>) -> OpFuture<O> {
        match deadline {
            Some(deadline) => self.handle.op_with_deadline(op, deadline),
            None => self.handle.op(op),
        }
    }

    /// Drives the send in flight to its end, sending again what a short
    /// send left.
    fn poll_sent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(send) = &mut self.io.write {
            self.io
                .write_by
                .follow(self.write_deadline, &self.handle, send.id());
            let (result, slice) = std::task::ready!(Pin::new(send).poll(cx));
            self.io.write = None;
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
        Poll::Ready(Ok(()))
    }

    /// Sends `rest` of what `poll_write` took, under the write deadline
    /// (`TimedOut` at the flush if it has passed).
    fn send_again(&mut self, rest: Slice<Vec<u8>>) {
        self.io.write = Some(self.start(send_all(&self.fd, rest), self.write_deadline));
        self.io.write_by = Carried::new(self.write_deadline);
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self;
        loop {
            let io = &mut this.io;
            if io.rpos < io.rbuf.len() {
                let n = out.remaining().min(io.rbuf.len() - io.rpos);
                out.put_slice(&io.rbuf[io.rpos..io.rpos + n]);
                io.rpos += n;
                return Poll::Ready(Ok(()));
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let recv = match &mut io.read {
                Some(recv) => {
                    io.read_by
                        .follow(this.read_deadline, &this.handle, recv.id());
                    recv
                }
                None => {
                    if this.read_deadline.is_some_and(|d| Instant::now() >= d) {
                        return Poll::Ready(Err(timed_out()));
                    }
                    let mut buf = std::mem::take(&mut io.rbuf);
                    buf.clear();
                    buf.reserve(READ_BUF);
                    let recv = this.start(Recv::new(&this.fd, buf), this.read_deadline);
                    this.io.read_by = Carried::new(this.read_deadline);
                    this.io.read.insert(recv)
                }
            };
            let (result, buf) = std::task::ready!(Pin::new(recv).poll(cx));
            let io = &mut this.io;
            io.read = None;
            io.rbuf = buf;
            io.rpos = 0;
            let carried = std::mem::take(&mut io.read_by);
            let Some(result) = carried.result(result, this.read_deadline) else {
                // Cancelled before it received a byte, to take the new
                // deadline: received again under it.
                io.rbuf.clear();
                continue;
            };
            match result {
                Err(e) => return Poll::Ready(Err(e)),
                // The end of the stream: nothing filled.
                Ok(0) => return Poll::Ready(Ok(())),
                Ok(n) => io.rbuf.truncate(n as usize),
            }
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
