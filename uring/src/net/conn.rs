//! What a connected stream socket does over the reactor, whatever its
//! family: [`TcpStream`](crate::net::TcpStream) and
//! [`UnixStream`](crate::net::UnixStream) are each one of these.

use crate::net::run;
use crate::reactor::ops::{Recv, RecvMulti, RecvRing, Send, SendV};
use crate::reactor::{BufGroup, Handle, IoBuf, IoBufMut, OpStream, RingBuf, SharedFd};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};
use std::time::Instant;

/// A connected stream socket on a reactor, with its deadlines.
pub(crate) struct Conn {
    pub(crate) handle: Handle,
    pub(crate) fd: SharedFd,
    pub(crate) read_deadline: Option<Instant>,
    pub(crate) write_deadline: Option<Instant>,
    #[cfg(feature = "tokio")]
    pub(crate) io: crate::net::io_tokio::IoState,
}

#[cfg(feature = "tokio")]
impl Drop for Conn {
    fn drop(&mut self) {
        self.drop_io();
    }
}

impl Conn {
    pub(crate) fn new(handle: &Handle, fd: SharedFd) -> Conn {
        Conn {
            handle: handle.clone(),
            fd,
            read_deadline: None,
            write_deadline: None,
            #[cfg(feature = "tokio")]
            io: Default::default(),
        }
    }

    pub(crate) fn from_owned(handle: &Handle, fd: OwnedFd) -> Conn {
        Conn::new(handle, SharedFd::new(fd))
    }

    pub(crate) async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        // What `AsyncRead` received ahead comes first.
        #[cfg(feature = "tokio")]
        let buf = {
            let mut buf = buf;
            if let Some(result) = self.take_read_ahead(&mut buf) {
                return (result, buf);
            }
            buf
        };
        let (result, buf) = run(&self.handle, Recv::new(&self.fd, buf), self.read_deadline).await;
        (result.map(|n| n as usize), buf)
    }

    /// For a receive that cannot take what `AsyncRead` received ahead:
    /// whether it may start.
    pub(crate) fn may_receive(&self) -> io::Result<()> {
        #[cfg(feature = "tokio")]
        self.no_read_ahead()?;
        Ok(())
    }

    /// For a send, or a shutdown of the write side: whether it may start
    /// (not before `AsyncWrite`'s bytes are flushed).
    pub(crate) fn may_send(&self) -> io::Result<()> {
        #[cfg(feature = "tokio")]
        self.no_write_behind()?;
        Ok(())
    }

    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        if let Err(e) = self.may_send() {
            return (Err(e), buf);
        }
        let (result, buf) = run(&self.handle, Send::new(&self.fd, buf), self.write_deadline).await;
        (result.map(|n| n as usize), buf)
    }

    pub(crate) async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> (io::Result<usize>, Vec<B>) {
        if let Err(e) = self.may_send() {
            return (Err(e), bufs);
        }
        let (result, bufs) = run(
            &self.handle,
            SendV::new(&self.fd, bufs),
            self.write_deadline,
        )
        .await;
        (result.map(|n| n as usize), bufs)
    }

    pub(crate) async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        crate::reactor::write_all(buf, |rest, _| self.write(rest)).await
    }

    pub(crate) async fn recv_ring(&self, group: BufGroup) -> io::Result<Option<RingBuf>> {
        self.may_receive()?;
        let (result, buf) = run(
            &self.handle,
            RecvRing::new(&self.fd, group),
            self.read_deadline,
        )
        .await;
        result?;
        Ok(buf)
    }

    pub(crate) fn recv_stream(&self, group: BufGroup) -> RecvStream {
        match self.may_receive() {
            Ok(()) => RecvStream {
                stream: Ok(self.handle.stream(RecvMulti::new(&self.fd, group))),
                rearm: Some(Rearm {
                    handle: self.handle.clone(),
                    fd: self.fd.clone(),
                    group,
                }),
            },
            Err(e) => RecvStream {
                stream: Err(Some(e)),
                rearm: None,
            },
        }
    }

    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        if how != std::net::Shutdown::Read {
            self.may_send()?;
        }
        crate::net::shutdown(&self.handle, &self.fd, how).await
    }
}

/// The public methods every stream socket has, forwarded to its `conn`.
macro_rules! stream_methods {
    () => {
        /// Sets both deadlines: reads and writes still in flight at
        /// `deadline` fail with `TimedOut`, and so do those started after
        /// it; `None` takes the deadline away. (go's `SetDeadline`.)
        pub fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
            self.conn.read_deadline = deadline;
            self.conn.write_deadline = deadline;
        }

        /// Sets the deadline of reads and receives.
        pub fn set_read_deadline(&mut self, deadline: Option<std::time::Instant>) {
            self.conn.read_deadline = deadline;
        }

        /// Sets the deadline of writes and sends.
        pub fn set_write_deadline(&mut self, deadline: Option<std::time::Instant>) {
            self.conn.write_deadline = deadline;
        }

        /// With the `tokio` feature: `AsyncRead` receives through one
        /// multishot receive into the reactor's buffer ring `group`, armed
        /// at the first read and kept across reads, instead of one receive
        /// per read into a buffer of the stream's own (`None`, the
        /// default). Each read copies out of the ring's buffers, which go
        /// back to the ring once read whole; the kernel goes on receiving
        /// ahead of the reader while buffers last.
        ///
        /// - A read deadline takes reads back to one receive per read (a
        ///   multishot receive cannot carry a link timeout): the multishot
        ///   receive is cancelled at the next read and what it received
        ///   before is read first.
        /// - When the ring has no buffer left (`ENOBUFS`), the read that
        ///   finds it so receives the one-shot way, and the next goes
        ///   through the ring again.
        /// - While the multishot receive lives (from the first read until
        ///   the end of the stream, an error, or a read after
        ///   `set_read_ring(None)` or a deadline), the stream's other
        ///   receives fail with `ResourceBusy`, as they do while a one-shot
        ///   read is in flight: they would race it for the next bytes.
        #[cfg(feature = "tokio")]
        pub fn set_read_ring(&mut self, group: Option<$crate::reactor::BufGroup>) {
            self.conn.set_read_ring(group);
        }

        /// Reads into `buf` (from its first byte, up to its capacity);
        /// gives it back with the byte count, 0 at the end of the stream.
        /// With the `tokio` feature, bytes `AsyncRead` received ahead come
        /// first, and while its receive is in flight this fails
        /// (`ResourceBusy`) rather than race it for the next bytes.
        ///
        /// Not cancel-safe: a future dropped once the kernel has received
        /// into its buffer (in a `select!` whose other branch won) loses
        /// those bytes with the buffer, as a dropped future's op is
        /// cancelled and its memory kept until the kernel lets go of it.
        /// To time a read out, give the stream a read deadline
        /// ([`set_read_deadline`](Self::set_read_deadline)), which ends the
        /// read with its bytes or `TimedOut`; or queue a `Recv` on
        /// [`shared_fd`](Self::shared_fd), cancel it by its id and await
        /// it, which hands back whatever it received.
        pub async fn read<B: $crate::reactor::IoBufMut>(
            &self,
            buf: B,
        ) -> (std::io::Result<usize>, B) {
            self.conn.read(buf).await
        }

        /// Writes `buf` (some of it, perhaps); gives it back with the byte
        /// count. With the `tokio` feature, this fails (`ResourceBusy`)
        /// while bytes `AsyncWrite` reported written are still being sent:
        /// flush it first.
        pub async fn write<B: $crate::reactor::IoBuf>(
            &self,
            buf: B,
        ) -> (std::io::Result<usize>, B) {
            self.conn.write(buf).await
        }

        /// Writes `bufs` in turn (some of them, perhaps) in one send
        /// (`IORING_SEND_VECTORIZED`, Linux 6.17; an older kernel refuses
        /// it with `EINVAL`); gives them back with the byte count. Refused
        /// as [`write`](Self::write) is, and bound by the write deadline.
        pub async fn writev<B: $crate::reactor::IoBuf>(
            &self,
            bufs: Vec<B>,
        ) -> (std::io::Result<usize>, Vec<B>) {
            self.conn.writev(bufs).await
        }

        /// Writes all of `buf`, sending again what a short send left.
        /// Refused as [`write`](Self::write) is. On an error (a deadline,
        /// a reset), how much of `buf` went out first is not reported (as
        /// with std's `write_all`): the peer may have a prefix of it. Loop
        /// over [`write`](Self::write) to know the count.
        pub async fn write_all<B: $crate::reactor::IoBuf>(
            &self,
            buf: B,
        ) -> (std::io::Result<()>, B) {
            self.conn.write_all(buf).await
        }

        /// Receives into a buffer of the reactor's buffer ring `group`,
        /// with no copy; `None` at the end of the stream. (`ENOBUFS` when
        /// the ring has no buffer left: drop some and try again.) With the
        /// `tokio` feature, fails while `AsyncRead` holds bytes it received
        /// ahead (`InvalidInput`: read them first) or has a receive in
        /// flight (`ResourceBusy`).
        pub async fn recv_ring(
            &self,
            group: $crate::reactor::BufGroup,
        ) -> std::io::Result<Option<$crate::reactor::RingBuf>> {
            self.conn.recv_ring(group).await
        }

        /// Receives continuously into buffers of `group` (one multishot
        /// receive, armed again should the kernel end it after a buffer,
        /// as it does when the completion queue is full): each item is a
        /// buffer, `Ok(None)` at the end of the stream, or the error that
        /// ended it (`ENOBUFS` when the ring ran dry); after that item the
        /// stream ends (`None`), and it ends without one only once the
        /// reactor has shut down. Deadlines do not apply. Refused as
        /// [`recv_ring`](Self::recv_ring) is, with the error as its only
        /// item.
        pub fn recv_stream(&self, group: $crate::reactor::BufGroup) -> $crate::net::RecvStream {
            self.conn.recv_stream(group)
        }

        /// Shuts down the reading, writing or both halves
        /// (`std::net::Shutdown`). A shutdown of the writing half is
        /// refused as [`write`](Self::write) is, so that it cuts off no
        /// byte `AsyncWrite` reported written (its own `poll_shutdown`
        /// flushes first).
        pub async fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            self.conn.shutdown(how).await
        }

        /// The shared descriptor, for ops of
        /// [`reactor::ops`](crate::reactor::ops) queued by hand (with
        /// callbacks).
        pub fn shared_fd(&self) -> &$crate::reactor::SharedFd {
            &self.conn.fd
        }

        /// The reactor the stream is on.
        pub fn handle(&self) -> &$crate::reactor::Handle {
            &self.conn.handle
        }
    };
}

pub(crate) use stream_methods;

/// `AsFd` and `Debug` for a stream socket type with a `conn`.
macro_rules! stream_traits {
    ($ty:ident) => {
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.conn.fd.as_fd()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.conn.fd)
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use stream_traits;

/// A multishot receive into a buffer ring, from a stream's `recv_stream`
/// ([`TcpStream::recv_stream`](crate::net::TcpStream::recv_stream),
/// [`UnixStream::recv_stream`](crate::net::UnixStream::recv_stream)).
///
/// The kernel ends a multishot receive now and then with a buffer as its
/// last completion, the connection still open (when the completion queue
/// has no room for the next one, `io_recv_finish`): the stream then arms
/// another, which goes on where the last one stopped, so that it ends
/// (`None`) only after the end of the stream or an error, or once the
/// reactor has shut down.
pub struct RecvStream {
    /// The receive, or why it could not start (until that is read).
    stream: Result<OpStream<RecvMulti>, Option<io::Error>>,
    /// What arming the receive again takes, until the stream's last item
    /// (the end, an error): then `None`, and the descriptor is let go.
    rearm: Option<Rearm>,
}

/// What a [`RecvStream`] arms its receive again with.
struct Rearm {
    handle: Handle,
    fd: SharedFd,
    group: BufGroup,
}

impl RecvStream {
    /// The next buffer, as [`OpStream::poll_next`]: `Ready(None)` only
    /// after the item that ended the stream (or the refusal that kept it
    /// from starting), or once the reactor has shut down.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Option<RingBuf>>>> {
        loop {
            let stream = match &mut self.stream {
                Ok(stream) => stream,
                Err(refused) => return Poll::Ready(refused.take().map(Err)),
            };
            match std::task::ready!(stream.poll_next(cx)) {
                Some(Ok(Some(buf))) => return Poll::Ready(Some(Ok(Some(buf)))),
                // The end of the stream, or the error that ended the
                // receive: the stream's last item.
                Some(last) => {
                    self.rearm = None;
                    return Poll::Ready(Some(last));
                }
                None => {
                    let refused = stream.failure();
                    let Some(rearm) = self.rearm.take() else {
                        return Poll::Ready(None);
                    };
                    if rearm.handle.is_shut_down() {
                        return Poll::Ready(None);
                    }
                    // Never queued (its index space spent, ...): said once,
                    // then the end.
                    if let Some(e) = refused {
                        return Poll::Ready(Some(Err(e)));
                    }
                    // The kernel ended the receive after a buffer, the
                    // connection open: another receive goes on from there
                    // (the last one's completions are all read, so the two
                    // never race for bytes).
                    self.stream = Ok(rearm.handle.stream(RecvMulti::new(&rearm.fd, rearm.group)));
                    self.rearm = Some(rearm);
                }
            }
        }
    }

    /// Awaits the next buffer: `Some(Ok(Some(buf)))`, `Some(Ok(None))` at
    /// the end of the stream, `Some(Err(..))` when the receive ended with
    /// an error (or could not start), `None` after the last (or once the
    /// reactor has shut down).
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Option<io::Result<Option<RingBuf>>> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }
}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream").finish_non_exhaustive()
    }
}
