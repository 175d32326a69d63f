//! The load generator of the network benchmark: `CONNS` connections, each
//! sending a request and waiting for the whole answer before the next, for
//! `SECS` seconds. Echo mode sends `SIZE` bytes and expects them back; HTTP
//! mode sends `GET /` and reads one response (its length from
//! `Content-Length`).
//!
//! It runs on one thread, on the reactor (so that it costs little of the
//! CPU it shares with the server), and counts only complete answers.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::net::TcpStream;
use uring::reactor::{Handle, Reactor};

/// What to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `SIZE` bytes, echoed back.
    Echo(usize),
    /// `GET /`, answered with an HTTP/1.1 response.
    Http,
}

/// The outcome of a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    /// Complete answers received within the run.
    pub requests: u64,
    /// Connections that failed (connect, send, receive, a wrong answer).
    pub errors: u64,
    /// The run's length.
    pub secs: f64,
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

/// Reads one HTTP response into `buf` (which may hold bytes of it already):
/// returns the bytes that follow it.
async fn http_response(conn: &TcpStream, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(io::Error::other)?;
            if !head.starts_with("HTTP/1.1 200") {
                return Err(io::Error::other(format!("unexpected response: {head}")));
            }
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .ok_or_else(|| io::Error::other("no content-length"))?;
            let total = end + 4 + length;
            while buf.len() < total {
                buf = read_more(conn, buf).await?;
            }
            return Ok(buf.split_off(total));
        }
        buf = read_more(conn, buf).await?;
    }
}

/// Appends what one read gets to `buf`.
async fn read_more(conn: &TcpStream, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    let (n, mut got) = conn.read(Vec::with_capacity(4096)).await;
    let n = n?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    got.truncate(n);
    buf.extend_from_slice(&got);
    Ok(buf)
}

async fn client(
    h: Handle,
    addr: SocketAddr,
    mode: Mode,
    end: Instant,
    done: Rc<Cell<u64>>,
) -> io::Result<()> {
    let conn = TcpStream::connect(&h, addr).await?;
    conn.set_nodelay(true)?;
    let message: Vec<u8> = match mode {
        Mode::Echo(size) => (0..size).map(|i| i as u8).collect(),
        Mode::Http => REQUEST.to_vec(),
    };
    let mut message = message;
    let mut back = Vec::with_capacity(8192);
    let mut rbuf = Vec::with_capacity(8192);
    let mut leftover = Vec::new();
    while Instant::now() < end {
        let (sent, m) = conn.write_all(message).await;
        message = m;
        sent?;
        match mode {
            Mode::Echo(size) => {
                back.clear();
                while back.len() < size {
                    let (n, mut got) = conn.read(std::mem::take(&mut rbuf)).await;
                    let n = n?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    back.extend_from_slice(&got[..n]);
                    got.clear();
                    rbuf = got;
                }
                if back != message {
                    return Err(io::Error::other("the echo differs"));
                }
            }
            Mode::Http => {
                leftover = http_response(&conn, std::mem::take(&mut leftover)).await?;
            }
        }
        if Instant::now() <= end {
            done.set(done.get() + 1);
        }
    }
    Ok(())
}

/// Runs the load: `conns` connections to `addr` for `secs`; an error for
/// a `secs` that is not a duration `Instant` can add (negative, NaN, too
/// long).
pub fn run(addr: SocketAddr, conns: usize, mode: Mode, secs: f64) -> io::Result<Report> {
    let length = Duration::try_from_secs_f64(secs)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let reactor = Reactor::new()?;
    let done = Rc::new(Cell::new(0));
    let errors = Rc::new(Cell::new(0));
    let start = Instant::now();
    let end = start
        .checked_add(length)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a run too long"))?;
    for _ in 0..conns {
        let (h, d, e) = (reactor.handle(), done.clone(), errors.clone());
        reactor.spawn(async move {
            if let Err(err) = client(h, addr, mode, end, d).await {
                if e.get() == 0 {
                    eprintln!("echo_load: {err}");
                }
                e.set(e.get() + 1);
            }
        });
    }
    reactor.run()?;
    Ok(Report {
        requests: done.get(),
        errors: errors.get(),
        secs: start.elapsed().as_secs_f64().min(secs),
    })
}
