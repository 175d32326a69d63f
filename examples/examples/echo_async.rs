//! `cargo run --release --example echo_async -- ADDR THREADS`: the echo
//! server of `echo_server`, written with `uring::net` and async tasks on a
//! tokio current-thread runtime per thread, which drives the thread's
//! reactor. Each connection's task reads with one multishot receive into
//! the thread's buffer ring and writes each buffer back as it is.

use std::io;
use std::process::ExitCode;

use uring::net::{TcpListener, TcpStream};
use uring::reactor::{BufGroup, Reactor};
use uring::{BufferGroup, Ring};
use uring_examples::net::{Listening, addr_threads, runtime, serve_threads};

async fn echo(conn: TcpStream, group: BufGroup) {
    let _ = conn.set_nodelay(true);
    let mut received = conn.recv_stream(group);
    while let Some(item) = received.next().await {
        match item {
            Ok(Some(buf)) => {
                let (sent, _buf) = conn.write_all(buf).await;
                if sent.is_err() {
                    return;
                }
            }
            // The ring ran dry: receive again once buffers are back.
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                received = conn.recv_stream(group);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

fn serve(ring: Ring, addr: std::net::SocketAddr, listening: Listening) -> io::Result<()> {
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime()?, async move {
        let reactor = Reactor::from_ring(ring)?;
        let h = reactor.handle();
        let group = h.register_buf_ring(BufferGroup::new(0), 4096, 2048)?;
        let listener = TcpListener::bind_reuseport(&h, addr)?;
        listening.on(listener.local_addr()?);
        let driver = tokio::task::spawn_local(reactor.into_tokio()?);
        let mut incoming = listener.incoming();
        while let Some(conn) = incoming.next().await {
            match conn {
                Ok(conn) => drop(tokio::task::spawn_local(echo(conn, group))),
                Err(e) => eprintln!("echo_async: accept: {e}"),
            }
        }
        driver.await.map_err(io::Error::other)?
    })
}

fn main() -> ExitCode {
    let (addr, threads) = match addr_threads("usage: echo_async ADDR [THREADS]") {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let rings = match uring_examples::net::tokio_rings(threads) {
        Ok(rings) => rings,
        Err(e) => {
            eprintln!("echo_async: {e}");
            return ExitCode::FAILURE;
        }
    };
    serve_threads("echo_async", addr, rings, serve)
}
