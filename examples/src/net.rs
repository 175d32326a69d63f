//! What the network examples share: argument parsing, listeners for the
//! tokio baselines, and the HTTP service.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::mpsc;

/// The body every HTTP server of the examples answers `GET /` with.
pub const BODY: &[u8] = b"Hello from uring!\n";

/// Parses `ADDR THREADS` (THREADS optional, default 1), or gives `usage`
/// (also for an argument that is not UTF-8).
pub fn addr_threads(usage: &str) -> Result<(SocketAddr, usize), String> {
    let mut args = std::env::args_os().skip(1);
    let addr = args
        .next()
        .and_then(|a| a.to_str()?.parse().ok())
        .ok_or_else(|| usage.to_string())?;
    let threads = match args.next() {
        Some(t) => t
            .to_str()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| usage.to_string())?,
        None => 1,
    };
    if threads == 0 || args.next().is_some() {
        return Err(usage.into());
    }
    Ok((addr, threads))
}

/// A std listener on `addr` with `SO_REUSEADDR` and `SO_REUSEPORT`, for a
/// listener per thread (what the tokio baselines use, as the uring servers
/// do with `TcpListener::bind_reuseport`).
pub fn reuseport_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket(2) with valid arguments; the result is checked.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    for opt in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        let one: libc::c_int = 1;
        // SAFETY: an int option, alive for the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let sockaddr = uring::SockAddr::from(addr);
    // SAFETY: a valid sockaddr of `len` bytes, alive for the call.
    if unsafe { libc::bind(fd.as_raw_fd(), sockaddr.as_ptr().cast(), sockaddr.len()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: listen(2) on a socket we own.
    if unsafe { libc::listen(fd.as_raw_fd(), 4096) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let listener = std::net::TcpListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A current-thread tokio runtime with its I/O driver.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}

/// The HTTP service: `GET /` answers [`BODY`], `HEAD /` the same head
/// (hyper sends no body in answer to `HEAD`, and keeps the
/// `content-length` the body gives), anything else 404.
pub async fn hello(
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<&'static [u8]>>, std::convert::Infallible> {
    let method = request.method();
    let found = (method == hyper::Method::GET || method == hyper::Method::HEAD)
        && request.uri().path() == "/";
    let response = if found {
        hyper::Response::builder()
            .header("content-type", "text/plain")
            .body(http_body_util::Full::new(BODY))
    } else {
        hyper::Response::builder()
            .status(hyper::StatusCode::NOT_FOUND)
            .body(http_body_util::Full::new(&b""[..]))
    };
    Ok(response.unwrap_or_default())
}

/// Serves HTTP/1.1 with [`hello`] on every connection `listener` accepts
/// (hyper over `uring::net`, through hyper-util's `TokioIo`), until the
/// reactor shuts down. Runs inside a `LocalSet` whose reactor tokio drives.
/// With `ring`, each connection reads through one multishot receive into
/// that buffer ring (`TcpStream::set_read_ring`); without, one receive
/// per read.
pub async fn serve_http(listener: uring::net::TcpListener, ring: Option<uring::reactor::BufGroup>) {
    let handle = listener.handle().clone();
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        let Ok(mut conn) = conn else {
            // Out of descriptors or memory: every accept would fail at
            // once until some are freed, so pause rather than spin.
            let pause = uring::reactor::ops::Timeout::new(std::time::Duration::from_millis(20));
            let _ = handle.op(pause).await;
            continue;
        };
        let _ = conn.set_nodelay(true);
        conn.set_read_ring(ring);
        tokio::task::spawn_local(async move {
            let io = hyper_util::rt::TokioIo::new(conn);
            // Half-closes kept: a client that shuts its sending side
            // after its request (`nc -N`, HTTP/1.0 tools) still gets the
            // answer, whenever its end of stream is read.
            let _ = hyper::server::conn::http1::Builder::new()
                .half_close(true)
                .serve_connection(io, hyper::service::service_fn(hello))
                .await;
        });
    }
}

/// `threads` rings of 1024 entries sharing one worker pool, set up for
/// tokio-driven reactors as `Reactor::new` sets its ring up: tokio waits in
/// epoll, which runs no deferred work (so no `defer_taskrun`); with
/// `coop_taskrun` the kernel runs completions' work when the thread next
/// enters it rather than interrupting it for each. Each ring is enabled by
/// its reactor, on the thread that becomes its single issuer.
pub fn tokio_rings(threads: usize) -> uring::Result<Vec<uring::Ring>> {
    let builder = uring::reactor::Reactor::ring_builder().r_disabled();
    uring::Ring::create_many(threads, 1024, 1, &builder)
}

/// What a server thread of [`serve_threads`] reports once its listener is
/// bound: the address it listens on.
#[derive(Debug)]
pub struct Listening(mpsc::Sender<SocketAddr>);

impl Listening {
    /// Reports that the thread listens on `addr` (its listener's
    /// `local_addr`), and serves from now on.
    pub fn on(self, addr: SocketAddr) {
        // The main thread waits for this, or has returned already.
        let _ = self.0.send(addr);
    }
}

/// Runs server `name` with one thread per item of `per_thread` (a ring,
/// or `()` for a server with none): `serve(item, addr, listening)` binds
/// its listener to `addr`, reports the address bound
/// through `listening`, then serves until it fails. The threads start one
/// after the other, each once the one before it listens; the first binds
/// `addr` as given, and the others the address it got (the port the kernel
/// picked, given port 0). Once every thread listens, prints `NAME:
/// listening on ADDR with N thread(s)`; a thread that ends before it
/// listens ends the program at once, with its error on one line. Returns
/// the program's exit code once every thread has ended.
pub fn serve_threads<T, F>(name: &str, addr: SocketAddr, per_thread: Vec<T>, serve: F) -> ExitCode
where
    T: Send + 'static,
    F: FnOnce(T, SocketAddr, Listening) -> io::Result<()> + Send + Clone + 'static,
{
    let count = per_thread.len();
    let mut addr = addr;
    let mut servers = Vec::with_capacity(count);
    for item in per_thread {
        let (tx, rx) = mpsc::channel();
        let serve = serve.clone();
        let server = std::thread::spawn(move || serve(item, addr, Listening(tx)));
        match rx.recv() {
            Ok(bound) => addr = bound,
            // The thread ended without listening.
            Err(_) => {
                match server.join() {
                    Ok(Err(e)) => eprintln!("{name}: {e}"),
                    Ok(Ok(())) => eprintln!("{name}: a server thread ended before it listened"),
                    Err(_) => eprintln!("{name}: a server thread panicked"),
                }
                return ExitCode::FAILURE;
            }
        }
        servers.push(server);
    }
    // A stdout that takes no line (a closed pipe) stops no server.
    let mut out = io::stdout().lock();
    let listening = writeln!(out, "{name}: listening on {addr} with {count} thread(s)")
        .and_then(|()| out.flush());
    drop(out);
    if let Err(e) = listening {
        eprintln!("{name}: listening on {addr} with {count} thread(s); stdout: {e}");
    }
    let mut code = ExitCode::SUCCESS;
    for server in servers {
        match server.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("{name}: {e}");
                code = ExitCode::FAILURE;
            }
            Err(_) => code = ExitCode::FAILURE,
        }
    }
    code
}
