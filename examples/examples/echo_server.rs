//! `cargo run --release --example echo_server -- ADDR THREADS`: a TCP echo
//! server on the reactor with callbacks, go-uring's echo example.
//!
//! One ring per thread, all from `Ring::create_many` (one worker pool for
//! all), each with its own `SO_REUSEPORT` listener. A multishot accept
//! takes the connections; each connection has one multishot receive into
//! the thread's buffer ring, and every buffer received is sent back as it
//! is (no copy), returning to the ring once sent. Runs until killed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use uring::net::TcpListener;
use uring::reactor::ops::{AcceptMulti, RecvMulti, Send, Timeout};
use uring::reactor::{BufGroup, Handle, IoBuf, MultishotEnded, Reactor, RingBuf, SharedFd, Slice};
use uring::{BufferGroup, Ring};
use uring_examples::net::addr_threads;

/// One connection: its socket, and what waits to be sent while a send is
/// in flight (sends on one socket go one at a time, in order).
struct Conn {
    fd: SharedFd,
    sending: bool,
    queue: VecDeque<Slice<RingBuf>>,
}

fn accept(h: &Handle, listener: SharedFd, group: BufGroup) -> io::Result<()> {
    let handle = h.clone();
    let again = listener.clone();
    h.queue_multishot(AcceptMulti::new(&listener), move |item| match item {
        Ok(fd) => connection(&handle, fd, group),
        // The kernel ended the accept as its CQ filled: arm it again.
        Err(e) if MultishotEnded::is(&e) => {
            let _ = accept(&handle, again.clone(), group);
        }
        // Out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOMEM`):
        // every accept would fail at once until some are freed, so arm it
        // again after a pause rather than in a loop.
        Err(e) => {
            eprintln!("echo_server: accept: {e}");
            let (h, listener) = (handle.clone(), again.clone());
            let _ = handle.queue(Timeout::new(ACCEPT_PAUSE), move |_, ()| {
                let _ = accept(&h, listener, group);
            });
        }
    })?;
    Ok(())
}

/// How long the accept waits after an error before it is armed again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(20);

fn connection(h: &Handle, fd: OwnedFd, group: BufGroup) {
    let stream = std::net::TcpStream::from(fd);
    let _ = stream.set_nodelay(true);
    let conn = Rc::new(RefCell::new(Conn {
        fd: SharedFd::new(stream),
        sending: false,
        queue: VecDeque::new(),
    }));
    receive(h, conn, group);
}

fn receive(h: &Handle, conn: Rc<RefCell<Conn>>, group: BufGroup) {
    let handle = h.clone();
    let fd = conn.borrow().fd.clone();
    let queued = h.queue_multishot(RecvMulti::new(&fd, group), move |item| match item {
        Ok(Some(buf)) => send(&handle, &conn, buf.slice(..)),
        // The peer closed: the connection goes with the last reference.
        Ok(None) => {}
        // The ring ran dry, or the kernel ended the receive as its CQ
        // filled: receive again (as buffers come back).
        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) || MultishotEnded::is(&e) => {
            receive(&handle, conn.clone(), group);
        }
        Err(_) => {}
    });
    if let Err(e) = queued {
        eprintln!("echo_server: receive: {e}");
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
                drop(buf);
                let next = {
                    let mut c = conn.borrow_mut();
                    c.sending = false;
                    c.queue.pop_front()
                };
                if let Some(next) = next {
                    send(&handle, &conn, next);
                }
            }
            Err(_) => conn.borrow_mut().queue.clear(),
        }
    });
    if let Err(e) = queued {
        eprintln!("echo_server: send: {e}");
    }
}

fn serve(ring: Ring, addr: std::net::SocketAddr) -> io::Result<()> {
    let reactor = Reactor::from_ring(ring)?;
    let group = reactor.register_buf_ring(BufferGroup::new(0), 4096, 2048)?;
    let listener = TcpListener::bind_reuseport(&reactor, addr)?;
    accept(&reactor, listener.shared_fd().clone(), group)?;
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
    let servers: Vec<_> = rings
        .into_iter()
        .map(|ring| std::thread::spawn(move || serve(ring, addr)))
        .collect();
    println!("echo_server: listening on {addr} with {threads} thread(s)");
    let mut code = ExitCode::SUCCESS;
    for server in servers {
        match server.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("echo_server: {e}");
                code = ExitCode::FAILURE;
            }
            Err(_) => code = ExitCode::FAILURE,
        }
    }
    code
}
