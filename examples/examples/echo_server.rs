//! `cargo run --release --example echo_server -- ADDR THREADS`: a TCP echo
//! server on the reactor with callbacks, go-uring's echo example.
//!
//! One ring per thread, all from `Ring::create_many` (one worker pool for
//! all), each with its own `SO_REUSEPORT` listener. A multishot accept
//! takes the connections; each connection has one multishot receive into
//! the thread's buffer ring, and every buffer received is sent back as it
//! is (no copy), returning to the ring once sent. A connection whose peer
//! does not read its echo stops receiving once it holds [`MAX_HELD`]
//! buffers, and receives again once it holds fewer than half as many, so
//! that one such peer cannot take the buffers of every other connection of
//! its thread. Runs until killed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use uring::net::TcpListener;
use uring::reactor::ops::{AcceptMulti, RecvMulti, Send, Timeout};
use uring::reactor::{
    BufGroup, Handle, IoBuf, MultishotEnded, OpId, Reactor, RingBuf, SharedFd, Slice,
};
use uring::{BufferGroup, Ring};
use uring_examples::net::{Listening, addr_threads, serve_threads};

/// The received buffers a connection may hold (queued, or being sent)
/// before it stops receiving: a peer that sends without reading its echo
/// holds no more of its thread's buffer ring than this (and what arrives
/// while its receive is being cancelled).
const MAX_HELD: usize = 32;

/// A connection that stopped receiving receives again once it holds fewer
/// buffers than this.
const RESUME_BELOW: usize = MAX_HELD / 2;

/// How long a receive that found the buffer ring empty waits, at most,
/// before it is armed again (sooner, as soon as a send returns a buffer).
const STARVED_PAUSE: Duration = Duration::from_millis(20);

/// What the connections of one thread share.
struct Thread {
    group: BufGroup,
    /// The connections whose receive found the buffer ring empty
    /// (`ENOBUFS`): each receives again once a buffer comes back.
    starved: RefCell<Vec<Rc<RefCell<Conn>>>>,
}

/// Where a connection's multishot receive stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receiving {
    /// In flight.
    Armed(OpId),
    /// Cancelled, for holding too many buffers: items may still come
    /// before its end.
    Cancelling,
    /// Ended; armed again once the connection holds fewer than
    /// [`RESUME_BELOW`] buffers.
    Paused,
    /// Ended on an empty buffer ring; armed again once a buffer comes
    /// back (the connection is in [`Thread::starved`]).
    Starved,
    /// Ended for good: the peer closed, or the connection failed.
    Done,
}

/// One connection: its socket, what waits to be sent while a send is in
/// flight (sends on one socket go one at a time, in order), and its
/// receive.
struct Conn {
    fd: SharedFd,
    sending: bool,
    queue: VecDeque<Slice<RingBuf>>,
    receiving: Receiving,
    /// A send failed: what is received is dropped.
    broken: bool,
    thread: Rc<Thread>,
}

impl Conn {
    /// The received buffers the connection holds: queued, and being sent.
    fn held(&self) -> usize {
        self.queue.len() + usize::from(self.sending)
    }
}

fn accept(h: &Handle, listener: SharedFd, thread: Rc<Thread>) -> io::Result<()> {
    let handle = h.clone();
    let again = listener.clone();
    h.queue_multishot(AcceptMulti::new(&listener), move |item| match item {
        Ok(fd) => connection(&handle, fd, &thread),
        // The kernel ended the accept as its CQ filled: arm it again.
        Err(e) if MultishotEnded::is(&e) => {
            let _ = accept(&handle, again.clone(), thread.clone());
        }
        // Out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOMEM`):
        // every accept would fail at once until some are freed, so arm it
        // again after a pause rather than in a loop.
        Err(e) => {
            eprintln!("echo_server: accept: {e}");
            let (h, listener, thread) = (handle.clone(), again.clone(), thread.clone());
            let _ = handle.queue(Timeout::new(ACCEPT_PAUSE), move |_, ()| {
                let _ = accept(&h, listener, thread);
            });
        }
    })?;
    Ok(())
}

/// How long the accept waits after an error before it is armed again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(20);

fn connection(h: &Handle, fd: OwnedFd, thread: &Rc<Thread>) {
    let stream = std::net::TcpStream::from(fd);
    let _ = stream.set_nodelay(true);
    let conn = Rc::new(RefCell::new(Conn {
        fd: SharedFd::new(stream),
        sending: false,
        queue: VecDeque::new(),
        receiving: Receiving::Done,
        broken: false,
        thread: thread.clone(),
    }));
    receive(h, &conn);
}

/// Arms the connection's multishot receive.
fn receive(h: &Handle, conn: &Rc<RefCell<Conn>>) {
    let handle = h.clone();
    let (fd, group) = {
        let c = conn.borrow();
        (c.fd.clone(), c.thread.group)
    };
    let this = conn.clone();
    let queued = h.queue_multishot(RecvMulti::new(&fd, group), move |item| {
        received(&handle, &this, item);
    });
    conn.borrow_mut().receiving = match queued {
        Ok(id) => Receiving::Armed(id),
        Err(e) => {
            eprintln!("echo_server: receive: {e}");
            Receiving::Done
        }
    };
}

/// An item of the connection's receive.
fn received(h: &Handle, conn: &Rc<RefCell<Conn>>, item: io::Result<Option<RingBuf>>) {
    let e = match item {
        Ok(Some(buf)) => {
            if conn.borrow().broken {
                return;
            }
            send(h, conn, buf.slice(..));
            let mut c = conn.borrow_mut();
            if let Receiving::Armed(id) = c.receiving
                && c.held() >= MAX_HELD
            {
                // The peer does not read its echo fast enough: stop taking
                // buffers for it until what it holds is sent. (`Ok(false)`:
                // the receive is at its end already.)
                if h.cancel(id).is_ok() {
                    c.receiving = Receiving::Cancelling;
                }
            }
            return;
        }
        // The peer closed: the connection goes with the last reference,
        // once what it holds is sent.
        Ok(None) => {
            conn.borrow_mut().receiving = Receiving::Done;
            return;
        }
        Err(e) => e,
    };
    // The receive has ended.
    let mut c = conn.borrow_mut();
    let cancelled = c.receiving == Receiving::Cancelling;
    let starved = e.raw_os_error() == Some(libc::ENOBUFS);
    let again = starved
        || MultishotEnded::is(&e)
        || (cancelled && e.raw_os_error() == Some(libc::ECANCELED));
    if !again || c.broken {
        c.receiving = Receiving::Done;
        return;
    }
    if starved {
        // The ring ran dry: receive again when a buffer comes back (a send
        // completes), or after a pause, not at once.
        c.receiving = Receiving::Starved;
        let thread = c.thread.clone();
        drop(c);
        let mut list = thread.starved.borrow_mut();
        list.push(conn.clone());
        if list.len() == 1 {
            drop(list);
            let (handle, thread) = (h.clone(), thread.clone());
            let _ = h.queue(Timeout::new(STARVED_PAUSE), move |_, ()| {
                wake_starved(&handle, &thread);
            });
        }
        return;
    }
    // Cancelled for holding too much, or ended by the kernel as its CQ
    // filled: receive again now, or once enough is sent.
    c.receiving = Receiving::Paused;
    drop(c);
    resume(h, conn);
}

/// Arms the receive of a paused connection again once it holds fewer than
/// [`RESUME_BELOW`] buffers.
fn resume(h: &Handle, conn: &Rc<RefCell<Conn>>) {
    let again = {
        let c = conn.borrow();
        c.receiving == Receiving::Paused && !c.broken && c.held() < RESUME_BELOW
    };
    if again {
        receive(h, conn);
    }
}

/// Lets the connections that found the buffer ring empty receive again:
/// buffers have come back.
fn wake_starved(h: &Handle, thread: &Thread) {
    let starved = std::mem::take(&mut *thread.starved.borrow_mut());
    for conn in starved {
        let paused = {
            let mut c = conn.borrow_mut();
            let starved = c.receiving == Receiving::Starved;
            if starved {
                c.receiving = Receiving::Paused;
            }
            starved
        };
        if paused {
            resume(h, &conn);
        }
    }
}

fn send(h: &Handle, conn: &Rc<RefCell<Conn>>, buf: Slice<RingBuf>) {
    let mut c = conn.borrow_mut();
    if c.sending {
        c.queue.push_back(buf);
        return;
    }
    c.sending = true;
    let fd = c.fd.clone();
    drop(c);
    let (handle, conn) = (h.clone(), conn.clone());
    let queued = h.queue(Send::new(&fd, buf), move |result, buf| {
        let (begin, end) = (buf.begin(), buf.end());
        match result {
            Ok(n) if begin + (n as usize) < end => {
                // A short send: the rest goes first.
                conn.borrow_mut().sending = false;
                let rest = buf.into_inner().slice(begin + n as usize..end);
                send(&handle, &conn, rest);
            }
            Ok(_) => {
                // The buffer goes back to the ring.
                drop(buf);
                let (next, starved) = {
                    let mut c = conn.borrow_mut();
                    c.sending = false;
                    let starved = !c.thread.starved.borrow().is_empty();
                    (c.queue.pop_front(), starved.then(|| c.thread.clone()))
                };
                if let Some(next) = next {
                    send(&handle, &conn, next);
                }
                resume(&handle, &conn);
                if let Some(thread) = starved {
                    wake_starved(&handle, &thread);
                }
            }
            Err(_) => {
                // The peer is gone: drop what it holds (back to the ring),
                // and stop receiving for it.
                drop(buf);
                let thread = {
                    let mut c = conn.borrow_mut();
                    c.broken = true;
                    c.sending = false;
                    c.queue.clear();
                    if let Receiving::Armed(id) = c.receiving
                        && handle.cancel(id).is_ok()
                    {
                        c.receiving = Receiving::Cancelling;
                    }
                    c.thread.clone()
                };
                if !thread.starved.borrow().is_empty() {
                    wake_starved(&handle, &thread);
                }
            }
        }
    });
    if let Err(e) = queued {
        eprintln!("echo_server: send: {e}");
    }
}

fn serve(ring: Ring, addr: std::net::SocketAddr, listening: Listening) -> io::Result<()> {
    let reactor = Reactor::from_ring(ring)?;
    let group = reactor.register_buf_ring(BufferGroup::new(0), 4096, 2048)?;
    let listener = TcpListener::bind_reuseport(&reactor, addr)?;
    listening.on(listener.local_addr()?);
    let thread = Rc::new(Thread {
        group,
        starved: RefCell::new(Vec::new()),
    });
    accept(&reactor, listener.shared_fd().clone(), thread)?;
    reactor.run()
}

fn main() -> ExitCode {
    let (addr, threads) = match addr_threads("usage: echo_server ADDR [THREADS]") {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    // Each ring is enabled by its reactor on its own thread, which becomes
    // its single issuer; completions' task work runs when that thread waits.
    let builder = Ring::builder().single_issuer().defer_taskrun().r_disabled();
    let rings = match Ring::create_many(threads, 1024, 1, &builder) {
        Ok(rings) => rings,
        Err(e) => {
            eprintln!("echo_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    serve_threads("echo_server", addr, rings, serve)
}
