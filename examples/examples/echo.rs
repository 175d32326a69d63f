//! A TCP echo server on one ring, and clients on threads that check every
//! byte comes back: the shape of an event loop over `uring`.
//!
//! `cargo run --release --example echo -- [CONNECTIONS] [MESSAGES]`
//!
//! The server accepts with one multishot accept, then for each connection
//! alternates a receive into the connection's buffer and a send of what was
//! received. Buffers live in the connection table, which keeps each one
//! until the completions of the ops that use it have been read: the
//! contract of `push_unchecked`, kept by the loop's bookkeeping.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::Instant;

use uring::ops::{Accept, Close, Recv, Send};
use uring::{Cqe, Error, Ring, SubmissionQueue, sys};

const BUF: usize = 4096;

/// What an op was, in the low byte of its `user_data`; the connection's
/// slot is above it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Accept = 1,
    Recv = 2,
    Send = 3,
    Close = 4,
}

fn user_data(kind: Kind, slot: usize) -> u64 {
    (slot as u64) << 8 | kind as u64
}

fn decode(user_data: u64) -> (Option<Kind>, usize) {
    let kind = match user_data & 0xff {
        1 => Some(Kind::Accept),
        2 => Some(Kind::Recv),
        3 => Some(Kind::Send),
        4 => Some(Kind::Close),
        _ => None,
    };
    (kind, (user_data >> 8) as usize)
}

/// One connection: its socket and the buffer its ops use. The buffer is
/// boxed so that it does not move when the table grows.
struct Conn {
    fd: Option<OwnedFd>,
    buf: Box<[u8; BUF]>,
    /// Whether an op using `buf` is in flight: the entry may not be reused
    /// until it is not.
    busy: bool,
}

struct Server {
    conns: Vec<Conn>,
    free: Vec<usize>,
    echoed: u64,
    closed: usize,
}

fn closed_already() -> Error {
    Error::InvalidArgument("an op for a connection that is closed".into())
}

impl Server {
    fn recv(&mut self, sq: &mut SubmissionQueue<'_>, slot: usize) -> Result<(), Error> {
        let conn = &mut self.conns[slot];
        let fd = conn
            .fd
            .as_ref()
            .map(|fd| fd.as_raw_fd())
            .ok_or_else(closed_already)?;
        conn.busy = true;
        let op = Recv::new(fd, &mut conn.buf[..]).user_data(user_data(Kind::Recv, slot));
        // SAFETY: the buffer is boxed in the connection table, which neither
        // frees nor touches it while `busy` is set; `busy` is cleared only
        // when this op's completion is read.
        unsafe { sq.push_unchecked(op) }.map_err(Error::from)
    }

    fn send(&mut self, sq: &mut SubmissionQueue<'_>, slot: usize, len: usize) -> Result<(), Error> {
        let conn = &mut self.conns[slot];
        let fd = conn
            .fd
            .as_ref()
            .map(|fd| fd.as_raw_fd())
            .ok_or_else(closed_already)?;
        conn.busy = true;
        let op = Send::new(fd, &conn.buf[..len])
            .msg_flags(libc::MSG_NOSIGNAL)
            .user_data(user_data(Kind::Send, slot));
        // SAFETY: as in `recv`.
        unsafe { sq.push_unchecked(op) }.map_err(Error::from)
    }

    fn close(&mut self, sq: &mut SubmissionQueue<'_>, slot: usize) -> Result<(), Error> {
        let conn = &mut self.conns[slot];
        if let Some(fd) = conn.fd.take() {
            conn.busy = true;
            sq.push(Close::new(fd).user_data(user_data(Kind::Close, slot)))
                .map_err(Error::from)?;
        }
        Ok(())
    }

    fn accepted(&mut self, sq: &mut SubmissionQueue<'_>, fd: OwnedFd) -> Result<(), Error> {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.conns[slot].fd = Some(fd);
                slot
            }
            None => {
                self.conns.push(Conn {
                    fd: Some(fd),
                    buf: Box::new([0; BUF]),
                    busy: false,
                });
                self.conns.len() - 1
            }
        };
        self.recv(sq, slot)
    }

    /// Handles one completion; returns whether the accept is still armed.
    fn complete(&mut self, sq: &mut SubmissionQueue<'_>, cqe: Cqe) -> Result<bool, Error> {
        let (kind, slot) = decode(cqe.user_data());
        match kind {
            Some(Kind::Accept) => {
                if let Ok(fd) = cqe.result() {
                    // SAFETY: the accept's result is a new descriptor that
                    // nothing else owns.
                    self.accepted(sq, unsafe { OwnedFd::from_raw_fd(fd as i32) })?;
                }
                return Ok(cqe.has_more());
            }
            Some(Kind::Recv) => {
                self.conns[slot].busy = false;
                match cqe.result() {
                    Ok(0) | Err(_) => self.close(sq, slot)?,
                    Ok(n) => self.send(sq, slot, n as usize)?,
                }
            }
            Some(Kind::Send) => {
                self.conns[slot].busy = false;
                match cqe.result() {
                    Ok(n) => {
                        self.echoed += u64::from(n);
                        self.recv(sq, slot)?;
                    }
                    Err(_) => self.close(sq, slot)?,
                }
            }
            Some(Kind::Close) => {
                self.conns[slot].busy = false;
                self.free.push(slot);
                self.closed += 1;
            }
            None => {}
        }
        Ok(true)
    }
}

/// Runs the server on `listener` until `clients` clients have come and gone.
fn serve(listener: TcpListener, clients: usize) -> Result<u64, Error> {
    let mut ring = Ring::builder().single_issuer().build(256)?;
    ring.push(
        Accept::new(listener.as_raw_fd())
            .ioprio(sys::IORING_ACCEPT_MULTISHOT)
            .accept_flags(libc::SOCK_CLOEXEC)
            .user_data(user_data(Kind::Accept, 0)),
    )?;
    let mut server = Server {
        conns: Vec::new(),
        free: Vec::new(),
        echoed: 0,
        closed: 0,
    };
    let mut accepting = true;
    loop {
        ring.submit_and_wait(1)?;
        let (mut sq, completions) = ring.split();
        for cqe in completions {
            if !server.complete(&mut sq, cqe)? {
                accepting = false;
            }
        }
        drop(sq);
        if server.closed == clients {
            break;
        }
        if !accepting {
            return Err(Error::InvalidArgument(
                "the multishot accept ended early".into(),
            ));
        }
    }
    // Every connection is closed and no op uses a buffer; stop accepting.
    ring.cancel_sync(uring::SyncCancel::any().all(), None)?;
    debug_assert!(server.conns.iter().all(|c| !c.busy));
    Ok(server.echoed)
}

/// A client: sends `messages` messages of varied sizes and checks each
/// comes back whole.
fn client(addr: SocketAddr, id: usize, messages: usize) -> std::io::Result<u64> {
    let mut stream = TcpStream::connect(addr)?;
    let mut total = 0u64;
    let mut back = vec![0u8; BUF];
    for m in 0..messages {
        let len = 1 + (id * 131 + m * 977) % (BUF - 1);
        let msg: Vec<u8> = (0..len).map(|i| (i + id + m) as u8).collect();
        stream.write_all(&msg)?;
        stream.read_exact(&mut back[..len])?;
        if back[..len] != msg[..] {
            return Err(std::io::Error::other(format!(
                "client {id}, message {m}: the echo differs"
            )));
        }
        total += len as u64;
    }
    Ok(total)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let messages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let run = || -> Result<(u64, u64, f64), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let start = Instant::now();
        let server = std::thread::spawn(move || serve(listener, connections));
        let clients: Vec<_> = (0..connections)
            .map(|id| std::thread::spawn(move || client(addr, id, messages)))
            .collect();
        let mut sent = 0;
        for c in clients {
            sent += c.join().map_err(|_| "a client panicked")??;
        }
        let echoed = server.join().map_err(|_| "the server panicked")??;
        Ok((sent, echoed, start.elapsed().as_secs_f64()))
    };
    match run() {
        Ok((sent, echoed, secs)) if sent == echoed => {
            println!(
                "connections={connections} messages={messages} bytes={echoed} secs={secs:.3} \
                 MB/s={:.1}",
                echoed as f64 / secs / 1e6
            );
            ExitCode::SUCCESS
        }
        Ok((sent, echoed, _)) => {
            eprintln!("echo: clients sent {sent} bytes, the server echoed {echoed}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}
