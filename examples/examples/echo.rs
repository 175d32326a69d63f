//! A TCP echo server on one ring, and clients on threads that check every
//! byte comes back: the shape of an event loop over `uring`.
//!
//! `cargo run --release --example echo -- [CONNECTIONS] [MESSAGES]`
//!
//! The server runs in one scope: it accepts with one multishot accept, then
//! for each connection alternates a receive and a send of what was
//! received. Each connection owns a buffer, which it gives to the scope with
//! every op over it and gets back with that op's completion, so the loop
//! needs no `unsafe` to keep it alive, and cannot touch it while the kernel
//! may.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::Instant;

use uring::ops::{Accept, Close, Recv, Send};
use uring::{AcceptFlags, Error, Fd, MsgFlags, Ring, Scope, ScopeCqe};

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

/// One connection: its socket, and its buffer while no op has it.
struct Conn {
    fd: Option<OwnedFd>,
    buf: Option<Vec<u8>>,
}

struct Server {
    conns: Vec<Conn>,
    free: Vec<usize>,
    echoed: u64,
    closed: usize,
}

fn broken(what: &str) -> Error {
    Error::InvalidArgument(format!("echo: {what}"))
}

impl Server {
    /// The connection's socket and buffer, for an op over them.
    fn take(&mut self, slot: usize) -> Result<(Fd<'static>, Vec<u8>), Error> {
        let conn = &mut self.conns[slot];
        let fd = conn
            .fd
            .as_ref()
            .ok_or_else(|| broken("the connection is closed"))?;
        let buf = conn
            .buf
            .take()
            .ok_or_else(|| broken("the buffer is in use"))?;
        // SAFETY: the connection's descriptor stays open until its `Close`
        // runs, which is pushed only once no other op over it is in flight
        // (one op at a time per connection: its buffer is taken by it).
        Ok((unsafe { Fd::borrow_raw(fd.as_raw_fd()) }, buf))
    }

    fn recv(&mut self, s: &mut Scope<'_, '_>, slot: usize) -> Result<(), Error> {
        let (fd, buf) = self.take(slot)?;
        s.push_owned(buf, |buf, sq| {
            sq.push(Recv::new(fd, buf).user_data(user_data(Kind::Recv, slot)))
        })
        .map_err(Error::from)
    }

    fn send(&mut self, s: &mut Scope<'_, '_>, slot: usize, len: usize) -> Result<(), Error> {
        let (fd, buf) = self.take(slot)?;
        s.push_owned(buf, |buf, sq| {
            sq.push(
                Send::new(fd, &buf[..len])
                    .msg_flags(MsgFlags::NOSIGNAL)
                    .user_data(user_data(Kind::Send, slot)),
            )
        })
        .map_err(Error::from)
    }

    fn close(&mut self, s: &mut Scope<'_, '_>, slot: usize) -> Result<(), Error> {
        if let Some(fd) = self.conns[slot].fd.take() {
            s.push(Close::new(fd).user_data(user_data(Kind::Close, slot)))
                .map_err(Error::from)?;
        }
        Ok(())
    }

    fn accepted(&mut self, s: &mut Scope<'_, '_>, fd: OwnedFd) -> Result<(), Error> {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.conns[slot].fd = Some(fd);
                slot
            }
            None => {
                self.conns.push(Conn {
                    fd: Some(fd),
                    buf: Some(vec![0; BUF]),
                });
                self.conns.len() - 1
            }
        };
        self.recv(s, slot)
    }

    /// Handles one completion; returns whether the accept is still armed.
    fn complete(&mut self, s: &mut Scope<'_, '_>, mut cqe: ScopeCqe<'_>) -> Result<bool, Error> {
        let (kind, slot) = decode(cqe.user_data());
        if let Some(buf) = cqe.take_buf() {
            // The op over the connection's buffer is done: it is ours again.
            self.conns[slot].buf = Some(buf);
        }
        match kind {
            Some(Kind::Accept) => {
                if let Ok(fd) = cqe.result() {
                    // SAFETY: the accept's result is a new descriptor that
                    // nothing else owns.
                    self.accepted(s, unsafe { OwnedFd::from_raw_fd(fd as i32) })?;
                }
                return Ok(cqe.has_more());
            }
            Some(Kind::Recv) => match cqe.result() {
                Ok(0) | Err(_) => self.close(s, slot)?,
                Ok(n) => self.send(s, slot, n as usize)?,
            },
            Some(Kind::Send) => match cqe.result() {
                Ok(n) => {
                    self.echoed += u64::from(n);
                    self.recv(s, slot)?;
                }
                Err(_) => self.close(s, slot)?,
            },
            Some(Kind::Close) => {
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
    let mut server = Server {
        conns: Vec::new(),
        free: Vec::new(),
        echoed: 0,
        closed: 0,
    };
    ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .accept_flags(libc::SOCK_CLOEXEC)
                .user_data(user_data(Kind::Accept, 0)),
        )?;
        let mut done = Vec::new();
        while server.closed < clients {
            s.submit_and_wait(1)?;
            done.extend(s.completions());
            for cqe in done.drain(..) {
                if !server.complete(s, cqe)? {
                    return Err(broken("the multishot accept ended early"));
                }
            }
        }
        // Every connection is closed; the scope cancels the accept as it
        // ends.
        Ok(())
    })?;
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
