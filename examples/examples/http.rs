//! `cargo run --release --example http -- ADDR [THREADS]`: hyper serving
//! HTTP/1.1 over `uring::net` (through hyper-util's `TokioIo`), answering
//! `GET /` with a fixed body (and `HEAD /` with its head); go-uring's HTTP
//! example. One tokio current-thread runtime and one reactor per thread,
//! each with its own `SO_REUSEPORT` listener and buffer ring, which every
//! connection reads through with one multishot receive.

use std::io;
use std::process::ExitCode;

use uring::BufferGroup;
use uring::net::TcpListener;
use uring::reactor::Reactor;
use uring_examples::net::{addr_threads, runtime, serve_http, serve_threads};

fn main() -> ExitCode {
    let (addr, threads) = match addr_threads("usage: http ADDR [THREADS]") {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let rings = match uring_examples::net::tokio_rings(threads) {
        Ok(rings) => rings,
        Err(e) => {
            eprintln!("http: {e}");
            return ExitCode::FAILURE;
        }
    };
    serve_threads("http", addr, rings, |ring, addr, listening| {
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime()?, async move {
            let reactor = Reactor::from_ring(ring)?;
            let listener = TcpListener::bind_reuseport(&reactor, addr)?;
            listening.on(listener.local_addr()?);
            // Requests are read through one multishot receive per
            // connection, into this ring's 2 KiB buffers.
            let ring = reactor
                .handle()
                .register_buf_ring(BufferGroup::new(0), 4096, 2048)?;
            let driver = tokio::task::spawn_local(reactor.into_tokio()?);
            serve_http(listener, Some(ring)).await;
            driver.await.map_err(io::Error::other)?
        })
    })
}
